"""PruneRetention: delete rows past their retention (outbox, idempotency keys, deliveries)."""

from __future__ import annotations

from datetime import timedelta

from application.ports import Clock, RetentionCutoffs, RetentionPruner


class PruneRetention:
    def __init__(self, *, pruner: RetentionPruner, clock: Clock, outbox_s: float,
                 idempotency_s: float, deliveries_s: float, batch: int = 1000) -> None:
        self._pruner, self._clock, self._batch = pruner, clock, batch
        self._ages = (timedelta(seconds=outbox_s), timedelta(seconds=idempotency_s),
                      timedelta(seconds=deliveries_s))

    async def __call__(self) -> dict[str, int]:
        """One batch of each kind; the counts deleted by table."""
        now = self._clock.now()
        outbox, idempotency, deliveries = self._ages
        return await self._pruner.prune(RetentionCutoffs(
            outbox_before=now - outbox, idempotency_before=now - idempotency,
            deliveries_before=now - deliveries), limit=self._batch)
