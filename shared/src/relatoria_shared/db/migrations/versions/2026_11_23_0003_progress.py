"""progress: rows written so far and rows expected, while a report renders

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("report_requests", sa.Column("rows_written", sa.BigInteger))
    op.add_column("report_requests", sa.Column("rows_expected", sa.BigInteger))


def downgrade() -> None:
    op.drop_column("report_requests", "rows_expected")
    op.drop_column("report_requests", "rows_written")
