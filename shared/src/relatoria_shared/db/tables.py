"""The schema as SQLAlchemy Core metadata, for Alembic (migrations create it; the services
speak SQL through `db.pool`)."""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from relatoria_shared.domain.errors import ErrorCode
from relatoria_shared.domain.formats import ReportFormat
from relatoria_shared.domain.status import ReportStatus
from relatoria_shared.domain.webhooks import DeliveryStatus

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _one_of(column: str, values: list[str]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


_NOW = sa.text("now()")

report_requests = sa.Table(
    "report_requests",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("owner_id", sa.Text, nullable=False),
    sa.Column("idempotency_key", sa.Text),
    sa.Column("request_fingerprint", sa.Text),
    sa.Column("report_type", sa.Text, nullable=False),
    sa.Column("lane", sa.Text, nullable=False, server_default="interactive"),
    sa.Column("format", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("parameters", JSONB, nullable=False),
    sa.Column("parameter_summary", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    # Set when `parameters` (an inline table's cells) were deleted: no longer needed.
    sa.Column("parameters_deleted_at", sa.DateTime(timezone=True)),
    sa.Column("traceparent", sa.Text),
    sa.Column("fair_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
    sa.Column("status", sa.Text, nullable=False, server_default=ReportStatus.QUEUED.value),
    sa.Column("error_code", sa.Text),
    sa.Column("error_message", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("max_attempts", sa.Integer, nullable=False, server_default="5"),
    sa.Column("worker_id", sa.Text),
    sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
    # Unused since migration 0005; dropped by a later one (rolling upgrades).
    sa.Column("published_at", sa.DateTime(timezone=True)),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.Column("object_key", sa.Text),
    sa.Column("content_type", sa.Text),
    sa.Column("file_name", sa.Text),
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("sha256", sa.Text),
    sa.Column("row_count", sa.Integer),
    sa.Column("page_count", sa.Integer),
    sa.Column("rows_written", sa.BigInteger),
    sa.Column("rows_expected", sa.BigInteger),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    sa.Column("first_failed_at", sa.DateTime(timezone=True)),
    sa.Column("last_failed_at", sa.DateTime(timezone=True)),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    # Where its end is announced, signed with its owner's signing secret (webhooks).
    sa.Column("callback_url", sa.Text),
    sa.CheckConstraint(_one_of("status", [s.value for s in ReportStatus]), name="status"),
    sa.CheckConstraint(_one_of("format", [f.value for f in ReportFormat]), name="format"),
    sa.CheckConstraint(
        "error_code IS NULL OR " + _one_of("error_code", [c.value for c in ErrorCode]),
        name="error_code",
    ),
    sa.UniqueConstraint("owner_id", "idempotency_key", name="uq_report_requests_owner_idempotency"),
)

# The owner's listing, newest first, with the id as keyset tie-breaker.
sa.Index(
    "ix_report_requests_owner_created",
    report_requests.c.owner_id,
    report_requests.c.created_at.desc(),
    report_requests.c.id.desc(),
)
# The sweeper's scans touch only unfinished work.
sa.Index(
    "ix_report_requests_pending",
    report_requests.c.status,
    report_requests.c.lease_expires_at,
    postgresql_where=sa.text("status IN ('queued', 'processing')"),
)
# The retention cleanup's scan: done reports by expiry (missing expiries are stamped first).
sa.Index(
    "ix_report_requests_done_expiry",
    report_requests.c.expires_at,
    report_requests.c.finished_at,
    postgresql_where=sa.text("status = 'done'"),
)
# The claim's scan: a lane's queued requests in fair order.
sa.Index(
    "ix_report_requests_claim",
    report_requests.c.lane,
    report_requests.c.fair_at,
    postgresql_where=sa.text("status = 'queued'"),
)

# Per owner and lane: the fair-queueing clock, the POST token bucket, and the requests in
# flight (kept by a trigger on report_requests; see migration 0005).
report_owners = sa.Table(
    "report_owners",
    metadata,
    sa.Column("owner_id", sa.Text, primary_key=True),
    sa.Column("lane", sa.Text, primary_key=True),
    sa.Column("in_flight", sa.Integer, nullable=False, server_default="0"),
    sa.Column("clock", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
    sa.Column("tokens", sa.Float, nullable=False, server_default="0"),
    sa.Column("refilled_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
)

# Webhooks (migration 0007): endpoints, owners' signing secrets, and the outbox of
# deliveries that a trigger on report_requests records with each report's end.
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("owner_id", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("events", ARRAY(sa.Text), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
    sa.Column("deleted_at", sa.DateTime(timezone=True)),
)
sa.Index(
    "ix_webhook_endpoints_owner",
    webhook_endpoints.c.owner_id,
    webhook_endpoints.c.created_at,
    postgresql_where=sa.text("deleted_at IS NULL"),
)

webhook_signing_secrets = sa.Table(
    "webhook_signing_secrets",
    metadata,
    sa.Column("owner_id", sa.Text, primary_key=True),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("request_id", UUID(as_uuid=True), nullable=False),
    sa.Column("owner_id", sa.Text, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),
    sa.Column("endpoint_id", UUID(as_uuid=True)),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False, server_default=DeliveryStatus.PENDING.value),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("payload", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
    sa.Column("published_at", sa.DateTime(timezone=True)),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=_NOW),
    sa.Column("sending_until", sa.DateTime(timezone=True)),
    sa.Column("round_started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.Text),
    sa.CheckConstraint(_one_of("status", [s.value for s in DeliveryStatus]), name="status"),
)
sa.Index("ix_webhook_deliveries_request", webhook_deliveries.c.request_id)
sa.Index(
    "ix_webhook_deliveries_pending",
    webhook_deliveries.c.next_attempt_at,
    postgresql_where=sa.text("status = 'pending'"),
)
sa.Index(
    "ix_webhook_deliveries_dead",
    webhook_deliveries.c.finished_at,
    postgresql_where=sa.text("status = 'dead'"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column(
        "delivery_id",
        UUID(as_uuid=True),
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
)
