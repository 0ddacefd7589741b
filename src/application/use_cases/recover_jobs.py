"""RecoverJobs (the reaper's sweeper): nothing waits without a deadline (ADR 0041).

One pass, in this order, each step with its own query and its own limit, so a backlog of
queued jobs can never starve lease recovery:

1. Lapsed leases (a NULL lease in a leased status counts as lapsed), the longest lapsed first.
   Lapsed while generating: an unknown outcome (the provider may have made and billed the
   image), so the retry policy allows at most one more try. Lapsed while uploading: the image
   was bought already, so it is never generated again: an async job goes back to waiting for
   its provider (whose result can be fetched again), any other fails as `storage`, refunded.
2. Jobs awaiting a callback past their max wait, reachable or not: failed as `timeout`, refunded.
3. Expired reservations: the job (if still live) fails as `timeout` and the reservation is
   released, in one unit.
4. Queued, due jobs whose message may be lost: re-sent only if nothing sent them for
   `resend_after_s`, and marked so that the other reapers' passes do not send them too.

A re-send and a return to the provider write their queue message to the outbox in the unit
that changes the job (ADR 0051, 0057) and publish it right after the commit; if the process
dies in between, the relay sends it.

Every settlement is conditional on what the sweeper read (the same attempt still holds the job
under a lapsed lease), so a worker that renewed meanwhile keeps its job.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from application.conflicts import retry_on_conflict
from application.errors import ConcurrencyConflict
from application.ports import Clock, JobEventPublisher, OutboxMessage, TaskQueue, UnitOfWorkFactory
from application.use_cases.relay_outbox import RelayOutbox, dispatch_message
from application.use_cases.settle_failure import FailOrRetry
from domain.failures import ErrorClass, JobFailure
from domain.jobs import Attempt, FailureStage, Job, JobStatus, JobStatusChanged

log = logging.getLogger("imagegen.reaper")
_T = TypeVar("_T")


class RecoverJobs:
    def __init__(self, *, uow: UnitOfWorkFactory, queue: TaskQueue, clock: Clock,
                 fail_or_retry: FailOrRetry, publisher: JobEventPublisher | None = None,
                 awaiting_max_wait_s: int = 3600, resend_after_s: int = 300) -> None:
        self._uow, self._queue, self._clock, self._fail_or_retry = uow, queue, clock, fail_or_retry
        self._publisher = publisher
        self._max_wait = timedelta(seconds=awaiting_max_wait_s)
        self._resend_after = timedelta(seconds=resend_after_s)
        self._relay = RelayOutbox(uow=uow, queue=queue, clock=clock)

    async def __call__(self, limit: int = 500, *, resend_all: bool = False) -> int:
        """Run one pass with at most `limit` jobs per step; return how many jobs it settled,
        moved or re-sent. `resend_all` re-sends every queued, due job (a process start whose
        in-process queue was lost)."""
        now = self._clock.now()
        done = 0
        async with self._uow() as uow:
            lapsed = await uow.jobs.lapsed_leases(now, limit)
        done += await self._each(lapsed, self._settle_lapsed)
        async with self._uow() as uow:
            overdue = await uow.jobs.awaiting_since_generation(now - self._max_wait, limit)
        done += await self._each(overdue, self._fail_overdue)
        async with self._uow() as uow:
            expired = await uow.ledgers.expired_reservations(now, limit)
        done += await self._each(expired, lambda pair: self._settle_expired(*pair))
        async with self._uow() as uow:
            resend = await uow.jobs.queued_to_resend(
                now, now if resend_all else now - self._resend_after, limit)
        done += await self._each(resend, self._resend)
        return done

    async def _each(self, items: list[_T], settle: Callable[[_T], Awaitable[bool]]) -> int:
        done = 0
        for item in items:
            try:
                done += bool(await settle(item))
            except Exception:  # noqa: BLE001 - one job's trouble must not stop the pass
                log.warning("reaper.settle_failed", extra={"item": str(item)}, exc_info=True)
        return done

    async def _read(self, job_id: str) -> Job | None:
        async with self._uow() as uow:
            return await uow.jobs.get(job_id)

    async def _settle_lapsed(self, job_id: str) -> bool:
        job = await self._read(job_id)
        if job is None or job.status not in (JobStatus.PROCESSING, JobStatus.GENERATING,
                                             JobStatus.UPLOADING):
            return False
        holder = Attempt(job.state.attempts, job.state.worker_id or "")
        who = job.state.worker_id or "no worker"
        if job.status is not JobStatus.UPLOADING:
            lost = JobFailure(ErrorClass.TIMEOUT, f"{who} stopped renewing its lease while "
                              "generating; the provider may have run", unknown_outcome=True)
            await self._fail_or_retry(job_id, lost, FailureStage.GENERATING, lapsed=holder)
            return True
        if job.state.provider_job_id:
            return await self._return_to_provider(job_id, holder)
        lost = JobFailure(ErrorClass.STORAGE, f"{who} stopped renewing its lease while storing "
                          "the result; it is not bought again")
        await self._fail_or_retry(job_id, lost, FailureStage.UPLOADING, allow_retry=False,
                                  lapsed=holder)
        return True

    async def _return_to_provider(self, job_id: str, holder: Attempt) -> bool:
        sent: list[OutboxMessage] = []

        async def unit() -> bool:
            now = self._clock.now()
            async with self._uow() as uow:
                job = await uow.jobs.get(job_id)
                if job is None or job.status is not JobStatus.UPLOADING or job.attempt != holder \
                        or job.held_at(now):
                    return False
                job.return_to_provider(now=now)
                await uow.jobs.save(job)
                # a worker resumes it from the provider's result
                sent[:] = [dispatch_message(sweeper_message_id("return", job_id, now), job_id,
                                            now=now, own=True)]
                await uow.outbox.add(sent[0])
                await uow.commit()
                events = uow.collect_new_events()
            await self._publish(events)
            return True

        moved = await retry_on_conflict(unit)
        if moved and sent:
            await self._relay.publish_committed(sent[0])  # else the relay sends it
        return moved

    async def _fail_overdue(self, job_id: str) -> bool:
        now = self._clock.now()
        waited = JobFailure(ErrorClass.TIMEOUT, f"the provider did not finish within "
                            f"{int(self._max_wait.total_seconds())} s")

        def still_overdue(job: Job, at: datetime) -> bool:
            started = job.state.generating_at
            return (job.status is JobStatus.AWAITING_CALLBACK and not job.held_at(at)
                    and (started is None or started < now - self._max_wait))

        await self._fail_or_retry(job_id, waited, FailureStage.GENERATING, allow_retry=False,
                                  only_if=still_overdue)
        return True

    async def _settle_expired(self, account_id: str, job_id: str) -> bool:
        async def unit() -> bool:
            now = self._clock.now()
            async with self._uow() as uow:
                await uow.lock_account(account_id)  # account, then job (ADR 0045)
                ledger = await uow.ledgers.load(account_id, job_ids=(job_id,))
                reservation = ledger.reservation_for(job_id)
                if reservation is None or reservation.expires_at > now:
                    return False
                job = await uow.jobs.get(job_id)
                if job is not None and not job.status.terminal:
                    job.fail(now=now, error_class=ErrorClass.TIMEOUT, charged_credits=0,
                             message="the job's credit reservation expired before it finished")
                    await uow.jobs.save(job)
                ledger.release(job_id, now=now, reason="expired")
                await uow.ledgers.append(ledger)
                await uow.commit()
                events = uow.collect_new_events()
            await self._publish(events)
            return True

        return await retry_on_conflict(unit)

    async def _resend(self, job_id: str) -> bool:
        now = self._clock.now()
        try:
            async with self._uow() as uow:
                job = await uow.jobs.get(job_id)
                if job is None or job.status is not JobStatus.QUEUED:
                    return False
                job.mark_dispatched(now=now)
                await uow.jobs.save(job)
                message = dispatch_message(sweeper_message_id("resend", job_id, now), job_id,
                                           now=now, own=True)
                await uow.outbox.add(message)
                await uow.commit()
        except ConcurrencyConflict:
            return False  # another reaper sent it, or a worker claimed it
        await self._relay.publish_committed(message)  # else the relay sends it
        return True

    async def _publish(self, events: list[JobStatusChanged]) -> None:
        if self._publisher is not None and events:
            try:
                await self._publisher.publish(events)
            except Exception:  # noqa: BLE001 - committed already
                log.warning("reaper.events_not_published", exc_info=True)


def sweeper_message_id(purpose: str, job_id: str, now: datetime) -> str:
    """The outbox id of a message a sweeper or poller writes: one per job, purpose and pass."""
    digest = hashlib.sha256(f"{purpose}|{job_id}|{now.isoformat()}".encode()).hexdigest()[:26]
    return f"msg_{purpose}_{digest}"
