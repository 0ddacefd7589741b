"""GetBatch: a batch of the caller's, with its children and their derived summary."""

from __future__ import annotations

import msgspec

from application.errors import NotFound
from application.ports import UnitOfWorkFactory
from domain.batches import Batch, BatchSummary, summarize
from domain.jobs import JobState


class BatchView(msgspec.Struct, frozen=True, kw_only=True):
    batch: Batch
    jobs: tuple[JobState, ...]
    summary: BatchSummary


class GetBatch:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, user_id: str, batch_id: str) -> BatchView:
        """Raise NotFound when the batch does not exist or is another user's."""
        async with self._uow() as uow:
            batch = await uow.batches.get(batch_id)
            if batch is None or batch.user_id != user_id:
                raise NotFound("batch", batch_id)
            jobs = [await uow.jobs.get(job_id) for job_id in batch.job_ids]
        states = tuple(job.state for job in jobs if job is not None)
        return BatchView(batch=batch, jobs=states, summary=summarize(states))
