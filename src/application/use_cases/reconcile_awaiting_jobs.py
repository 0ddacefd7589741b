"""ReconcileAwaitingJobs: the poller for async-provider jobs whose webhook never came.

Replicate retries a terminal webhook for about a minute only, and a callback can overtake the
commit of the job's provider id, so every job awaiting a callback for longer than
`after_s` is enqueued to resume (`ResumeAwaitingJob` asks the provider). It also forgets
webhook deliveries older than `keep_deliveries_s` (3 days by default: longer than any
provider's retry horizon). Run it periodically (see `entrypoints.periodic`).
"""

from __future__ import annotations

from datetime import timedelta

import msgspec

from application.ports import Clock, TaskQueue, UnitOfWorkFactory


class ReconcileReport(msgspec.Struct, frozen=True, kw_only=True):
    resumed: list[str]
    pruned_deliveries: int


class ReconcileAwaitingJobs:
    def __init__(self, *, uow: UnitOfWorkFactory, queue: TaskQueue, clock: Clock, after_s: int = 60,
                 limit: int = 500, keep_deliveries_s: int = 3 * 24 * 3600) -> None:
        self._uow, self._queue, self._clock = uow, queue, clock
        self._after, self._limit = timedelta(seconds=after_s), limit
        self._keep = timedelta(seconds=keep_deliveries_s)

    async def __call__(self) -> ReconcileReport:
        """Enqueue stale awaiting jobs and prune old deliveries; report what was done."""
        now = self._clock.now()
        async with self._uow() as uow:
            stale = await uow.jobs.awaiting_callback_since(now - self._after, self._limit)
            pruned = await uow.provider_deliveries.prune(now - self._keep)
            await uow.commit()
        for job_id in stale:
            await self._queue.enqueue(job_id)
        return ReconcileReport(resumed=stale, pruned_deliveries=pruned)
