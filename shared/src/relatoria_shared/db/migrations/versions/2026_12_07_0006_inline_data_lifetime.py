"""inline data lifetime: when a request's parameters (its inline table) were deleted

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "report_requests", sa.Column("parameters_deleted_at", sa.DateTime(timezone=True))
    )
    # Requests already past needing their data: done, cancelled, expired.
    op.execute(
        "UPDATE report_requests SET parameters = '{}'::jsonb, parameters_deleted_at = now() "
        "WHERE status IN ('done', 'cancelled', 'expired')"
    )


def downgrade() -> None:
    op.drop_column("report_requests", "parameters_deleted_at")
