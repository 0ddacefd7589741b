"""FailOrRetry: what happens to a job whose attempt failed.

A retryable class with attempts left goes back to the queue after the retry policy's delay
(attempts are counted in the job row), its queue message written to the outbox in the same
unit and published right after the commit, or by the relay if that fails (ADR 0051); anything else fails the job and
settles its reservation as the refund policy says, in the same unit of work.

A worker's call is fenced: with `attempt`, a job that attempt no longer holds raises
`StaleAttempt` and nothing changes (a stale attempt's provider error must not fail or requeue
the live attempt). The sweeper's call (`lapsed`) acts only while that attempt still holds the
job under a lapsed lease. Lock order: the job is read first only to learn its account; the
ledger is loaded before the job is changed (account, then job: DESIGN.md section 2).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from application.conflicts import retry_on_conflict
from application.ports import Clock, JobEventPublisher, OutboxMessage, TaskQueue, UnitOfWorkFactory
from application.use_cases.relay_outbox import RelayOutbox, dispatch_message
from domain.failures import JobFailure, RefundPolicy, Settlement
from domain.jobs import Attempt, FailureStage, Job, JobState
from domain.retry import RetryPolicy


class FailOrRetry:
    def __init__(self, *, uow: UnitOfWorkFactory, queue: TaskQueue, clock: Clock,
                 publisher: JobEventPublisher, retry_policy: RetryPolicy,
                 refund_policy: RefundPolicy) -> None:
        self._uow, self._queue, self._clock, self._publisher = uow, queue, clock, publisher
        self._retry, self._refunds = retry_policy, refund_policy
        self._relay = RelayOutbox(uow=uow, queue=queue, clock=clock)

    async def __call__(self, job_id: str, failure: JobFailure, stage: FailureStage,
                       *, allow_retry: bool = True, attempt: Attempt | None = None,
                       lapsed: Attempt | None = None,
                       only_if: Callable[[Job, datetime], bool] | None = None) -> float | None:
        """Record the failure; return the retry delay in seconds, or None if the job failed.

        With `attempt` (a worker's call) `StaleAttempt` is raised unless that attempt still
        holds the job. With `lapsed` (the sweeper's call) nothing happens unless the job is
        still held by that attempt under a lease that has expired (or was never set): the
        sweeper read the job earlier, and meanwhile the worker may have renewed, or another
        attempt may have begun. With `only_if`, nothing happens unless it holds for the job
        as re-read in the unit.
        """

        async def unit() -> float | None:
            now = self._clock.now()
            async with self._uow() as uow:
                job = await uow.jobs.get(job_id)
                if attempt is not None:
                    if job is None:
                        return None
                    job.fence(attempt)  # StaleAttempt: the live attempt's job is not ours
                if job is None or job.status.terminal:
                    return None
                if lapsed is not None and not _lapsed(job.state, lapsed, now):
                    return None
                if only_if is not None and not only_if(job, now):
                    return None
                delay = self._retry.delay_before_retry(failure, job.state.attempts) if allow_retry else None
                if delay is not None:
                    due = now + timedelta(seconds=delay)
                    job.requeue(now=now, next_attempt_at=due,
                                error_class=failure.error_class, message=failure.message,
                                provider_cost_micros=failure.provider_cost_micros)
                    sent[:] = [dispatch_message(retry_message_id(job_id, job.state.attempts), job_id,
                                                now=now, not_before=due, own=True)]
                    await uow.outbox.add(sent[0])
                else:
                    await uow.lock_account(job.state.user_id)
                    ledger = await uow.ledgers.load(job.state.user_id, job_ids=(job_id,))
                    charged = 0
                    if self._refunds.settlement_for(failure.error_class) is Settlement.CAPTURE:
                        charged = job.state.estimated_credits
                        ledger.capture(job_id, charged, now=now)
                    else:
                        ledger.release(job_id, now=now, reason=failure.error_class.value)
                    job.fail(now=now, error_class=failure.error_class, message=failure.message,
                             charged_credits=charged, stage=stage,
                             provider_cost_micros=failure.provider_cost_micros)
                    await uow.ledgers.append(ledger)
                await uow.jobs.save(job)
                await uow.commit()
                events = uow.collect_new_events()
            await self._publisher.publish(events)
            return delay

        sent: list[OutboxMessage] = []
        delay = await retry_on_conflict(unit)
        if delay is not None and sent:
            await self._relay.publish_committed(sent[0])  # else the relay sends it
        return delay


def _lapsed(state: JobState, attempt: Attempt, now: datetime) -> bool:
    expires = state.lease_expires_at
    return (state.attempts == attempt.number and (state.worker_id or "") == attempt.worker_id
            and (expires is None or expires < now))


def retry_message_id(job_id: str, attempts: int) -> str:
    """The outbox id of the retry after attempt `attempts`: one per attempt, so a requeue that
    is written twice (a unit retried after a conflict) clashes instead of sending twice."""
    return f"msg_{job_id.removeprefix('job_')}_retry{attempts}"
