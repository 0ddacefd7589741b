"""RelayOutbox: publish committed outbox messages to the task queue.

The outbox row commits with the job (see SubmitGeneration), so a job exists iff its message
does. `publish_committed` is the fast path right after that commit; whatever it could not
publish (queue down, process died) the periodic relay (`__call__`) publishes later. Several
relays may run at once: the store hands them disjoint rows where it can, and a message
published twice is harmless because only a queued, due job can be claimed by a worker.
"""

from __future__ import annotations

from application.ports import Clock, OutboxMessage, TaskQueue, UnitOfWorkFactory

#: The topic of "process this job" messages.
DISPATCH_JOB = "job.dispatch"


class RelayOutbox:
    def __init__(self, *, uow: UnitOfWorkFactory, queue: TaskQueue, clock: Clock) -> None:
        self._uow, self._queue, self._clock = uow, queue, clock

    async def __call__(self, limit: int = 100) -> int:
        """Publish up to `limit` undispatched messages; return how many were published.

        Raises:
            Exception: whatever the queue raised, after the messages published before it
                were marked dispatched (the rest stay for the next run).
        """
        error: Exception | None = None
        async with self._uow() as uow:
            published: list[str] = []
            for message in await uow.outbox.claim_undispatched(limit):
                try:
                    await self._publish(message)
                except Exception as exc:  # noqa: BLE001 - the queue is down: keep the rest for later
                    error = exc
                    break
                published.append(message.id)
            await uow.outbox.mark_dispatched(published, at=self._clock.now())
            await uow.commit()
        if error is not None:
            raise error
        return len(published)

    async def publish_committed(self, message: OutboxMessage) -> bool:
        """Publish one just-committed message and mark it; False if that failed, in which case
        the message stays in the outbox for the relay."""
        try:
            await self._publish(message)
            async with self._uow() as uow:
                await uow.outbox.mark_dispatched([message.id], at=self._clock.now())
                await uow.commit()
        except Exception:  # noqa: BLE001 - the committed row is the safety net
            return False
        return True

    async def _publish(self, message: OutboxMessage) -> None:
        delay = 0.0
        if message.not_before is not None:
            delay = max(0.0, (message.not_before - self._clock.now()).total_seconds())
        await self._queue.enqueue(message.job_id, delay_s=delay)
