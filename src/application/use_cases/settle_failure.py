"""FailOrRetry: what happens to a job whose attempt failed.

A retryable class with attempts left goes back to the queue after the retry policy's delay
(attempts are counted in the job row), its queue message written to the outbox in the same
unit and published right after the commit, or by the relay if that fails (ADR 0051); anything else fails the job and
settles its reservation as the refund policy says, in the same unit of work.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from application.conflicts import retry_on_conflict
from application.ports import Clock, JobEventPublisher, OutboxMessage, TaskQueue, UnitOfWorkFactory
from application.use_cases.relay_outbox import RelayOutbox, dispatch_message
from domain.failures import JobFailure, RefundPolicy, Settlement
from domain.jobs import FailureStage, JobState
from domain.retry import RetryPolicy


class FailOrRetry:
    def __init__(self, *, uow: UnitOfWorkFactory, queue: TaskQueue, clock: Clock,
                 publisher: JobEventPublisher, retry_policy: RetryPolicy,
                 refund_policy: RefundPolicy) -> None:
        self._uow, self._queue, self._clock, self._publisher = uow, queue, clock, publisher
        self._retry, self._refunds = retry_policy, refund_policy
        self._relay = RelayOutbox(uow=uow, queue=queue, clock=clock)

    async def __call__(self, job_id: str, failure: JobFailure, stage: FailureStage,
                       *, allow_retry: bool = True, lapsed_worker: str | None = None) -> float | None:
        """Record the failure; return the retry delay in seconds, or None if the job failed.

        With `lapsed_worker` (the reaper's call) nothing happens unless the job is still held
        by that worker under a lease that has expired: the reaper read the job earlier, and
        meanwhile the worker may have renewed, or another attempt may have begun.
        """

        async def attempt() -> float | None:
            now = self._clock.now()
            async with self._uow() as uow:
                job = await uow.jobs.get(job_id)
                if job is None or job.status.terminal:
                    return None
                if lapsed_worker is not None and not _lapsed(job.state, lapsed_worker, now):
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
        delay = await retry_on_conflict(attempt)
        if delay is not None and sent:
            await self._relay.publish_committed(sent[0])  # else the relay sends it
        return delay


def _lapsed(state: JobState, worker_id: str, now: datetime) -> bool:
    expires = state.lease_expires_at
    return state.worker_id == worker_id and expires is not None and expires < now


def retry_message_id(job_id: str, attempts: int) -> str:
    """The outbox id of the retry after attempt `attempts`: one per attempt, so a requeue that
    is written twice (a unit retried after a conflict) clashes instead of sending twice."""
    return f"msg_{job_id.removeprefix('job_')}_retry{attempts}"
