"""RenewLease: a worker extends its lease on a job while it works on it, so the reaper
(RecoverJobs) requeues only jobs whose worker really stopped. `LeaseKeeper.hold` renews in the
background every third of the lease while a block runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from application.conflicts import retry_on_conflict
from application.errors import ConcurrencyConflict, ServiceUnavailable
from application.ports import Clock, UnitOfWorkFactory
from domain.errors import InvalidTransition


class RenewLease:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, worker_id: str, lease_s: float) -> None:
        self._uow, self._clock, self._worker_id = uow, clock, worker_id
        self._lease = timedelta(seconds=lease_s)

    async def __call__(self, job_id: str) -> bool:
        """Extend our lease on the job; False when it is no longer ours (requeued, finished)."""

        async def attempt() -> bool:
            now = self._clock.now()
            async with self._uow() as uow:
                job = await uow.jobs.get(job_id)
                if job is None:
                    return False
                try:
                    job.renew_lease(worker_id=self._worker_id, lease_expires_at=now + self._lease)
                except InvalidTransition:
                    return False
                await uow.jobs.save(job)
                await uow.commit()
            return True

        return await retry_on_conflict(attempt, retries=3)


class LeaseKeeper:
    """Runs `RenewLease` every `lease_s / 3` seconds while a `hold` block runs."""

    def __init__(self, renew: RenewLease, clock: Clock, lease_s: float) -> None:
        self._renew, self._clock, self._every = renew, clock, lease_s / 3

    @contextlib.asynccontextmanager
    async def hold(self, job_id: str) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(self._loop(job_id), name=f"lease:{job_id}")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self, job_id: str) -> None:
        while True:
            await self._clock.sleep(self._every)
            try:
                if not await self._renew(job_id):
                    return  # the job moved on without us; the final unit will notice
            except (ServiceUnavailable, ConcurrencyConflict):
                continue  # the database blinked or the row was busy; try again next period
