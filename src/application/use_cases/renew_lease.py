"""RenewLease: a worker extends its lease on a job while it works on it, so the sweeper
(RecoverJobs) takes over only jobs whose worker really stopped. `LeaseKeeper.hold` renews in the
background every third of the lease while a block runs.

Renewal is fenced by the attempt (ADR 0040): it succeeds only while that attempt holds the job.
The keeper survives any error of a renewal (a pool timeout, a dropped connection, a bug in a
driver): it logs it and tries again next period, until a renewal reports the lease lost. Then it
cancels the block it guards, and `hold` raises `StaleAttempt` there: the worker stops work on
that job and writes nothing more (its later writes would be refused by the fence anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from application.conflicts import retry_on_conflict
from application.ports import Clock, UnitOfWorkFactory
from domain.errors import InvalidTransition, StaleAttempt
from domain.jobs import Attempt

log = logging.getLogger("imagegen.lease")


class RenewLease:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, worker_id: str, lease_s: float) -> None:
        self._uow, self._clock, self._worker_id = uow, clock, worker_id
        self._lease = timedelta(seconds=lease_s)

    async def __call__(self, job_id: str, attempt: Attempt | None = None) -> bool:
        """Extend `attempt`'s lease on the job; False when it is no longer held by that attempt
        (taken over, requeued, finished). Without `attempt`, whatever attempt of this worker
        holds the job (callers that have no token)."""

        async def renew() -> bool:
            now = self._clock.now()
            async with self._uow() as uow:
                job = await uow.jobs.get(job_id)
                if job is None:
                    return False
                token = attempt or Attempt(job.state.attempts, self._worker_id)
                try:
                    job.renew_lease(attempt=token, lease_expires_at=now + self._lease)
                except (StaleAttempt, InvalidTransition):
                    return False
                await uow.jobs.save(job)
                await uow.commit()
            return True

        return await retry_on_conflict(renew, retries=3)


class LeaseKeeper:
    """Runs `RenewLease` every `lease_s / 3` seconds while a `hold` block runs."""

    def __init__(self, renew: RenewLease, clock: Clock, lease_s: float) -> None:
        self._renew, self._clock, self._every = renew, clock, lease_s / 3

    @contextlib.asynccontextmanager
    async def hold(self, job_id: str, attempt: Attempt | None = None) -> AsyncIterator[None]:
        """Keep the lease while the block runs; if it is lost, cancel the block and raise
        `StaleAttempt` from it."""
        holder = asyncio.current_task()
        lost = asyncio.Event()
        task = asyncio.get_running_loop().create_task(
            self._loop(job_id, attempt, holder, lost), name=f"lease:{job_id}")
        try:
            yield
        except asyncio.CancelledError:
            if not lost.is_set():
                raise  # a cancellation from outside (shutdown, a time limit): let it through
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if lost.is_set():
            if holder is not None and holder.cancelling():
                holder.uncancel()  # our own cancellation: the lease is gone, not the process
            raise StaleAttempt(job_id, attempt.number if attempt else 0, "its lease was lost")

    async def _loop(self, job_id: str, attempt: Attempt | None, holder: asyncio.Task[object] | None,
                    lost: asyncio.Event) -> None:
        while True:
            await self._clock.sleep(self._every)
            try:
                if await self._renew(job_id, attempt):
                    continue
            except Exception:  # noqa: BLE001 - any error: the lease may still be ours, try again
                log.warning("lease.renew_failed", extra={"job_id": job_id}, exc_info=True)
                continue
            lost.set()  # the job moved on without us: stop working on it
            if holder is not None:
                holder.cancel()
            return
