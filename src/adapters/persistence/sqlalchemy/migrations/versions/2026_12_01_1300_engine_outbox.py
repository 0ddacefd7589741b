"""Engine outbox (issue 8, part C): the relay's in-flight claim, one retry per job, and
idempotency records whose outcome is in doubt.

- `outbox.claimed_until`: a message is in flight until then (ADR 0053).
- A unique index on `jobs.retry_of_job_id` (NULLs allowed many times): retrying a job twice
  returns the first retry. Older duplicate retries keep their rows and lose the link (only
  the oldest stays marked as the retry).
- `idempotency_keys.in_doubt`: the request's commit may or may not have happened (ADR 0052).

Revision ID: 2026_12_01_1300_engine_outbox
Revises: 0004_client_webhooks
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '2026_12_01_1300_engine_outbox'
down_revision = '0004_client_webhooks'
branch_labels = None
depends_on = ('0003_idempotency_batch',)


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE jobs SET retry_of_job_id = NULL WHERE retry_of_job_id IS NOT NULL AND id NOT IN "
        "(SELECT first_id FROM (SELECT MIN(id) AS first_id FROM jobs WHERE retry_of_job_id IS NOT NULL "
        "GROUP BY retry_of_job_id) AS firsts)")
    op.create_index('uq_jobs_retry_of_job_id', 'jobs', ['retry_of_job_id'], unique=True)
    with op.batch_alter_table('idempotency_keys') as batch:
        batch.add_column(sa.Column('in_doubt', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('idempotency_keys') as batch:
        batch.drop_column('in_doubt')
    op.drop_index('uq_jobs_retry_of_job_id', table_name='jobs')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('claimed_until')
