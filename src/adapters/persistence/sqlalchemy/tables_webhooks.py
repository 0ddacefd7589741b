"""Tables of the provider-webhook receiver: deliveries already handled, and a jobs index.

`provider_deliveries` is keyed by (provider, delivery_id), so a delivery that two receivers
handle at once is recorded once: the second insert is a `ConcurrencyConflict`. Rows are kept
for days (providers retry for up to ~2 h; Standard Webhooks senders for ~3 days).
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, String, Table

from adapters.persistence.sqlalchemy.tables import UtcDateTime, jobs, metadata

provider_deliveries = Table(
    "provider_deliveries", metadata,
    Column("provider", String(32), primary_key=True),
    Column("delivery_id", String(255), primary_key=True),
    Column("provider_job_id", String(255), nullable=False),
    Column("job_id", String(64)),
    Column("finished", Boolean, nullable=False),
    Column("received_at", UtcDateTime, nullable=False, index=True),
)

#: Webhooks find their job by the provider's id for it.
jobs_by_provider_job_id = Index("ix_jobs_provider_job_id", jobs.c.provider_job_id)
