"""Jobs remember when a reaper last re-sent them (`dispatched_at`, ADR 0041).

Revision ID: 1100_job_dispatched_at
Revises: 0004_client_webhooks
Create Date: 2026-12-01 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '1100_job_dispatched_at'
down_revision = '0004_client_webhooks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('jobs') as batch:
        batch.drop_column('dispatched_at')
