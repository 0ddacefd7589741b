"""ReconcileAwaitingJobs: the poller for async-provider jobs whose webhook never came.

Replicate retries a terminal webhook for about a minute only, and a callback can overtake the
commit of the job's provider id, so every job awaiting a callback for longer than
`after_s` is enqueued to resume (`ResumeAwaitingJob` asks the provider). It also forgets
webhook deliveries older than `keep_deliveries_s` (3 days by default: longer than any
provider's retry horizon). Run it periodically (see `entrypoints.periodic`).

The resume messages are outbox rows written in the unit that found the jobs (ADR 0051, 0057),
published right after its commit; if that fails or the process dies, the relay sends them.
"""

from __future__ import annotations

from datetime import timedelta

import msgspec

from application.ports import Clock, TaskQueue, UnitOfWorkFactory
from application.use_cases.recover_jobs import sweeper_message_id
from application.use_cases.relay_outbox import RelayOutbox, dispatch_message


class ReconcileReport(msgspec.Struct, frozen=True, kw_only=True):
    resumed: list[str]
    pruned_deliveries: int


class ReconcileAwaitingJobs:
    def __init__(self, *, uow: UnitOfWorkFactory, queue: TaskQueue, clock: Clock, after_s: int = 60,
                 limit: int = 500, keep_deliveries_s: int = 3 * 24 * 3600) -> None:
        self._uow, self._queue, self._clock = uow, queue, clock
        self._after, self._limit = timedelta(seconds=after_s), limit
        self._keep = timedelta(seconds=keep_deliveries_s)
        self._relay = RelayOutbox(uow=uow, queue=queue, clock=clock)

    async def __call__(self) -> ReconcileReport:
        """Enqueue stale awaiting jobs and prune old deliveries; report what was done."""
        now = self._clock.now()
        async with self._uow() as uow:
            stale = await uow.jobs.awaiting_callback_since(now - self._after, self._limit)
            pruned = await uow.provider_deliveries.prune(now - self._keep)
            messages = [dispatch_message(sweeper_message_id("poll", job_id, now), job_id, now=now, own=True)
                        for job_id in stale]
            for message in messages:
                await uow.outbox.add(message)
            await uow.commit()
        for message in messages:
            await self._relay.publish_committed(message)  # else the relay sends it
        return ReconcileReport(resumed=stale, pruned_deliveries=pruned)
