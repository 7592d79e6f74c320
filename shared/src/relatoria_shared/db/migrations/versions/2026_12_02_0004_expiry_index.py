"""expiry index: the retention cleanup's scan of done reports by expiry

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_report_requests_done_expiry",
        "report_requests",
        ["expires_at", "finished_at"],
        postgresql_where=sa.text("status = 'done'"),
    )


def downgrade() -> None:
    op.drop_index("ix_report_requests_done_expiry", table_name="report_requests")
