"""RelayOutbox: publish committed outbox messages (ADR 0011, 0051, 0053).

Every side effect of a job's transition is an outbox row committed with the transition: queue
messages (`job.dispatch`: a submit, a retry, a resume) and job events (`job.event`: client
webhook deliveries). A pass of the relay:

1. claims a batch in one short transaction (undispatched, not claimed by anyone live, oldest
   first, FOR UPDATE SKIP LOCKED on Postgres), marking each row claimed for `lease_s`, and
   commits, so no row lock is held while anything is sent;
2. publishes the batch: queue messages to the task queue, job events to `on_events`;
3. marks what was published dispatched, in a second short transaction, and releases what was
   not (the queue refused it), so the next pass takes it again.

A relay that dies between 2 and 3 leaves rows claimed; when the claim lapses another pass
publishes them again: at least once. That is harmless: a worker only claims a queued, due job,
and deliveries are recorded under ids derived from the message, once.

`publish_committed` is the submit's fast path: the submit commits its message already claimed
by itself (`own_claim`), publishes it right after the commit and marks it, without ever
waiting behind a relay's batch; if it cannot, it releases the claim for the relay.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from application.ports import Clock, OutboxMessage, TaskQueue, UnitOfWorkFactory

#: The topic of "process this job" messages.
DISPATCH_JOB = "job.dispatch"
#: The topic of job events (client webhooks); written by the unit of work itself.
JOB_EVENT = "job.event"
#: How long the submitter owns its own message before a relay may take it.
OWN_CLAIM = timedelta(seconds=10)

EventSink = Callable[[Sequence[OutboxMessage]], Awaitable[object]]


def dispatch_message(message_id: str, job_id: str, *, now: datetime,
                     not_before: datetime | None = None, own: bool = False) -> OutboxMessage:
    """A `job.dispatch` message; `own` claims it for the caller's `publish_committed`."""
    return OutboxMessage(id=message_id, job_id=job_id, topic=DISPATCH_JOB, created_at=now,
                         not_before=not_before, claimed_until=now + OWN_CLAIM if own else None)


class RelayOutbox:
    def __init__(self, *, uow: UnitOfWorkFactory, queue: TaskQueue, clock: Clock,
                 on_events: EventSink | None = None, lease_s: float = 30.0) -> None:
        """`on_events` records job events as client webhook deliveries (None: drop them)."""
        self._uow, self._queue, self._clock = uow, queue, clock
        self._on_events = on_events
        self._lease = timedelta(seconds=lease_s)

    async def __call__(self, limit: int = 100) -> int:
        """Claim, publish and mark up to `limit` messages; return how many were claimed.

        Raises:
            Exception: whatever the queue or the event sink raised, after what was published
                before it was marked dispatched and the rest released for the next pass.
        """
        now = self._clock.now()
        async with self._uow() as uow:
            batch = await uow.outbox.claim_undispatched(limit, now=now, lease_until=now + self._lease)
            await uow.commit()
        if not batch:
            return 0
        published, error = await self._publish_batch(batch)
        unsent = [m.id for m in batch if m.id not in set(published)]
        async with self._uow() as uow:
            await uow.outbox.mark_dispatched(published, at=self._clock.now())
            await uow.outbox.release(unsent)
            await uow.commit()
        if error is not None:
            raise error
        return len(batch)

    async def _publish_batch(self, batch: list[OutboxMessage]) -> tuple[list[str], Exception | None]:
        published: list[str] = []
        events = [m for m in batch if m.topic == JOB_EVENT]
        try:
            if events and self._on_events is not None:
                await self._on_events(events)
            published += [m.id for m in events]
            for message in batch:
                if message.topic == JOB_EVENT:
                    continue
                await self._publish(message)
                published.append(message.id)
        except Exception as exc:  # noqa: BLE001 - the queue is down: keep the rest for later
            return published, exc
        return published, None

    async def publish_committed(self, message: OutboxMessage) -> bool:
        """Publish one just-committed message the caller owns and mark it; False if that
        failed, in which case the claim is released for the relay (or lapses)."""
        try:
            await self._publish(message)
        except Exception:  # noqa: BLE001 - the committed row is the safety net
            await self._settle(message, dispatched=False)
            return False
        return await self._settle(message, dispatched=True)

    async def _settle(self, message: OutboxMessage, *, dispatched: bool) -> bool:
        try:
            async with self._uow() as uow:
                if dispatched:
                    await uow.outbox.mark_dispatched([message.id], at=self._clock.now())
                else:
                    await uow.outbox.release([message.id])
                await uow.commit()
        except Exception:  # noqa: BLE001 - the claim lapses; the relay sends it (again) then
            return False
        return dispatched

    async def _publish(self, message: OutboxMessage) -> None:
        delay = 0.0
        if message.not_before is not None:
            delay = max(0.0, (message.not_before - self._clock.now()).total_seconds())
        await self._queue.enqueue(message.job_id, delay_s=delay)

