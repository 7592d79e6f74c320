"""fair claim: lanes, fair order, stored summaries, trace context, per-owner counters

- `lane`, `fair_at`: the claim picks the next request of a lane in `fair_at` order. A
  request's `fair_at` is its owner's virtual clock in that lane (start-time fair queueing:
  each request an owner posts moves the owner's clock on by one quantum, never behind
  now), so one owner's burst is interleaved with everyone else's requests instead of
  queued ahead of them.
- `parameter_summary`: what status documents echo of the parameters, stored at insert so
  that no status read decodes an inline table.
- `traceparent`: the W3C trace context of the POST, so a job continues its trace whatever
  message woke the worker.
- `report_owners`: per owner and lane, the virtual clock, the POST token bucket and the
  count of requests in flight (queued or processing). The count is kept by a trigger on
  `report_requests`, so no transition can forget it.
- `published_at` is no longer written (RabbitMQ only wakes workers, PostgreSQL says what
  is pending); it stays, unused, until the release after this one, so that pods of the
  previous release keep working during a rolling upgrade.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IN_FLIGHT = "('queued', 'processing')"

COUNT_IN_FLIGHT = f"""
CREATE FUNCTION report_owners_count_in_flight() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.status IN {IN_FLIGHT} THEN
    UPDATE report_owners SET in_flight = in_flight - 1
     WHERE owner_id = OLD.owner_id AND lane = OLD.lane;
  END IF;
  IF NEW.status IN {IN_FLIGHT} THEN
    INSERT INTO report_owners AS o (owner_id, lane, in_flight)
    VALUES (NEW.owner_id, NEW.lane, 1)
    ON CONFLICT (owner_id, lane) DO UPDATE SET in_flight = o.in_flight + 1;
  END IF;
  RETURN NULL;
END $$;
"""


def upgrade() -> None:
    op.add_column(
        "report_requests",
        sa.Column("lane", sa.Text, nullable=False, server_default="interactive"),
    )
    op.add_column("report_requests", sa.Column("fair_at", sa.DateTime(timezone=True)))
    op.add_column("report_requests", sa.Column("parameter_summary", JSONB))
    op.add_column("report_requests", sa.Column("traceparent", sa.Text))
    op.execute("UPDATE report_requests SET lane = 'bulk' WHERE report_type <> 'table'")
    op.execute(
        """
        UPDATE report_requests SET
          fair_at = coalesce(next_attempt_at, updated_at),
          parameter_summary = CASE WHEN report_type = 'table' THEN jsonb_build_object(
              'columns', coalesce(parameters -> 'columns', '[]'::jsonb),
              'rowCount', coalesce(jsonb_array_length(parameters -> 'rows'), 0))
            ELSE parameters END
        """
    )
    op.alter_column("report_requests", "fair_at", nullable=False, server_default=sa.text("now()"))
    op.alter_column(
        "report_requests",
        "parameter_summary",
        nullable=False,
        server_default=sa.text("'{}'::jsonb"),
    )
    op.create_index(
        "ix_report_requests_claim",
        "report_requests",
        ["lane", "fair_at"],
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_table(
        "report_owners",
        sa.Column("owner_id", sa.Text, nullable=False),
        sa.Column("lane", sa.Text, nullable=False),
        sa.Column("in_flight", sa.Integer, nullable=False, server_default="0"),
        sa.Column("clock", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("tokens", sa.Float, nullable=False, server_default="0"),
        sa.Column(
            "refilled_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
        ),
        sa.PrimaryKeyConstraint("owner_id", "lane", name="pk_report_owners"),
    )
    op.execute(
        f"""
        INSERT INTO report_owners (owner_id, lane, in_flight, clock)
        SELECT owner_id, lane, count(*) FILTER (WHERE status IN {IN_FLIGHT}),
               greatest(max(fair_at), now())
          FROM report_requests GROUP BY owner_id, lane
        """
    )
    op.execute(COUNT_IN_FLIGHT)
    op.execute(
        f"""
        CREATE TRIGGER report_requests_in_flight
        AFTER INSERT ON report_requests FOR EACH ROW
        WHEN (NEW.status IN {IN_FLIGHT})
        EXECUTE FUNCTION report_owners_count_in_flight()
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER report_requests_in_flight_change
        AFTER UPDATE OF status ON report_requests FOR EACH ROW
        WHEN ((OLD.status IN {IN_FLIGHT}) IS DISTINCT FROM (NEW.status IN {IN_FLIGHT}))
        EXECUTE FUNCTION report_owners_count_in_flight();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER report_requests_in_flight_change ON report_requests")
    op.execute("DROP TRIGGER report_requests_in_flight ON report_requests")
    op.execute("DROP FUNCTION report_owners_count_in_flight()")
    op.drop_table("report_owners")
    op.drop_index("ix_report_requests_claim", table_name="report_requests")
    op.drop_column("report_requests", "traceparent")
    op.drop_column("report_requests", "parameter_summary")
    op.drop_column("report_requests", "fair_at")
    op.drop_column("report_requests", "lane")
