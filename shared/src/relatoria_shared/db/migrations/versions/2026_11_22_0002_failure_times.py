"""failure times: when a request first and last failed

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("report_requests", sa.Column("first_failed_at", sa.DateTime(timezone=True)))
    op.add_column("report_requests", sa.Column("last_failed_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("report_requests", "last_failed_at")
    op.drop_column("report_requests", "first_failed_at")
