"""Provider webhooks: deliveries already handled, and jobs found by their provider job id.

Revision ID: 0002_provider_deliveries
Revises: 0001_baseline
Create Date: 2026-11-21 11:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002_provider_deliveries'
down_revision = '0001_baseline'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('provider_deliveries',
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('delivery_id', sa.String(length=255), nullable=False),
    sa.Column('provider_job_id', sa.String(length=255), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=True),
    sa.Column('finished', sa.Boolean(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('provider', 'delivery_id', name=op.f('pk_provider_deliveries'))
    )
    op.create_index(op.f('ix_provider_deliveries_received_at'), 'provider_deliveries', ['received_at'],
                    unique=False)
    op.create_index('ix_jobs_provider_job_id', 'jobs', ['provider_job_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_jobs_provider_job_id', table_name='jobs')
    op.drop_index(op.f('ix_provider_deliveries_received_at'), table_name='provider_deliveries')
    op.drop_table('provider_deliveries')
