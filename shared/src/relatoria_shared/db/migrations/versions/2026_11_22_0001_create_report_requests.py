"""create report_requests

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 13:25:53.581809
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('report_requests',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('owner_id', sa.Text(), nullable=False),
    sa.Column('idempotency_key', sa.Text(), nullable=True),
    sa.Column('request_fingerprint', sa.Text(), nullable=True),
    sa.Column('report_type', sa.Text(), nullable=False),
    sa.Column('format', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('parameters', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.Text(), server_default='queued', nullable=False),
    sa.Column('error_code', sa.Text(), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('max_attempts', sa.Integer(), server_default='5', nullable=False),
    sa.Column('worker_id', sa.Text(), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('object_key', sa.Text(), nullable=True),
    sa.Column('content_type', sa.Text(), nullable=True),
    sa.Column('file_name', sa.Text(), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.Text(), nullable=True),
    sa.Column('row_count', sa.Integer(), nullable=True),
    sa.Column('page_count', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.CheckConstraint("error_code IS NULL OR error_code IN ('INVALID_PARAMETERS', 'DATA_SOURCE_ERROR', 'RENDER_ERROR', 'TOO_LARGE', 'STORAGE_ERROR', 'TIMEOUT', 'CANCELLED', 'INTERNAL_ERROR')", name=op.f('ck_report_requests_error_code')),
    sa.CheckConstraint("format IN ('xlsx', 'pdf', 'csv')", name=op.f('ck_report_requests_format')),
    sa.CheckConstraint("status IN ('queued', 'processing', 'done', 'error', 'cancelled', 'expired')", name=op.f('ck_report_requests_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_requests')),
    sa.UniqueConstraint('owner_id', 'idempotency_key', name='uq_report_requests_owner_idempotency')
    )
    op.create_index('ix_report_requests_owner_created', 'report_requests', ['owner_id', sa.literal_column('created_at DESC'), sa.literal_column('id DESC')], unique=False)
    op.create_index('ix_report_requests_pending', 'report_requests', ['status', 'lease_expires_at'], unique=False, postgresql_where=sa.text("status IN ('queued', 'processing')"))


def downgrade() -> None:
    op.drop_index('ix_report_requests_pending', table_name='report_requests', postgresql_where=sa.text("status IN ('queued', 'processing')"))
    op.drop_index('ix_report_requests_owner_created', table_name='report_requests')
    op.drop_table('report_requests')
