"""webhooks: endpoints, owners' signing secrets, a request's callback URL, and the outbox
of deliveries the end of a report records in the same transaction

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOW = sa.text("now()")

# The outbox: whichever statement ends a report (done, error, cancelled, expired) records
# its deliveries in its own transaction, so no path that changes a status can forget them,
# and a crash after the commit cannot lose them. One delivery per endpoint of the owner
# that wants the event, one for the request's callback URL; then a wake-up on the
# workers' channel (`db.wake_channel`), sent at commit, for the relay to publish them.
RECORD_DELIVERIES = """
CREATE FUNCTION webhook_deliveries_record() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  event text := CASE NEW.status
    WHEN 'done' THEN 'report.done' WHEN 'error' THEN 'report.failed'
    WHEN 'cancelled' THEN 'report.cancelled' WHEN 'expired' THEN 'report.expired' END;
  recorded integer;
BEGIN
  INSERT INTO webhook_deliveries (id, request_id, owner_id, event_type, endpoint_id, url)
  SELECT gen_random_uuid(), NEW.id, NEW.owner_id, event, e.id, e.url
    FROM webhook_endpoints e
   WHERE e.owner_id = NEW.owner_id AND e.deleted_at IS NULL AND event = ANY (e.events)
  UNION ALL
  SELECT gen_random_uuid(), NEW.id, NEW.owner_id, event, NULL, NEW.callback_url
   WHERE NEW.callback_url IS NOT NULL;
  GET DIAGNOSTICS recorded = ROW_COUNT;
  IF recorded > 0 THEN
    PERFORM pg_notify('relatoria_wake', 'webhooks');
  END IF;
  RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.add_column("report_requests", sa.Column("callback_url", sa.Text))
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("events", ARRAY(sa.Text), nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "ix_webhook_endpoints_owner",
        "webhook_endpoints",
        ["owner_id", "created_at"],
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "webhook_signing_secrets",
        sa.Column("owner_id", sa.Text, primary_key=True),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("request_id", UUID(as_uuid=True), nullable=False),
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        # NULL: the request's own callback URL, signed with its owner's signing secret.
        sa.Column("endpoint_id", UUID(as_uuid=True)),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        # The message body, fixed at the first attempt: every retry sends the same bytes
        # (text, not jsonb, which would not keep them).
        sa.Column("payload", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_NOW),
        # Set once the relay has handed the delivery to RabbitMQ.
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=_NOW),
        # A sender's claim on the delivery, so that a duplicate message cannot send twice.
        sa.Column("sending_until", sa.DateTime(timezone=True)),
        # The first attempt of the current round (a replay starts one): the retry horizon
        # runs from it.
        sa.Column("round_started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'dead', 'dropped')",
            name=op.f("ck_webhook_deliveries_status"),
        ),
    )
    op.create_index("ix_webhook_deliveries_request", "webhook_deliveries", ["request_id"])
    # The relay's scan: pending deliveries not yet (or no longer) in RabbitMQ.
    op.create_index(
        "ix_webhook_deliveries_pending",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_webhook_deliveries_dead",
        "webhook_deliveries",
        ["finished_at"],
        postgresql_where=sa.text("status = 'dead'"),
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("delivery_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("error", sa.Text),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["webhook_deliveries.id"],
            name="fk_webhook_attempts_delivery",
            ondelete="CASCADE",
        ),
    )
    op.execute(RECORD_DELIVERIES)
    op.execute(
        """
        CREATE TRIGGER report_requests_webhooks
        AFTER UPDATE OF status ON report_requests FOR EACH ROW
        WHEN (OLD.status IS DISTINCT FROM NEW.status
              AND NEW.status IN ('done', 'error', 'cancelled', 'expired'))
        EXECUTE FUNCTION webhook_deliveries_record()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER report_requests_webhooks ON report_requests")
    op.execute("DROP FUNCTION webhook_deliveries_record()")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_signing_secrets")
    op.drop_table("webhook_endpoints")
    op.drop_column("report_requests", "callback_url")
