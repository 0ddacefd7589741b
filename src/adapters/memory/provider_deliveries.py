"""Provider webhook deliveries in memory, staged per unit like every memory store."""

from __future__ import annotations

from datetime import datetime

import msgspec

from adapters.memory.store import InMemoryDatabase, decode, encode
from adapters.persistence import ConflictGuard
from application.ports import ProviderDelivery, ProviderDeliveryLog


class DeliveryRecord(msgspec.Struct, frozen=True, kw_only=True):
    delivery: ProviderDelivery
    job_id: str | None
    received_at: datetime


def _key(provider: str, delivery_id: str) -> str:
    return f"{provider}:{delivery_id}"


class InMemoryProviderDeliveryLog(ProviderDeliveryLog):
    """A `ProviderDeliveryLog` over `InMemoryDatabase.provider_deliveries`."""

    def __init__(self, db: InMemoryDatabase, guard: ConflictGuard) -> None:
        self._db, self._guard = db, guard
        self._staged: dict[str, bytes] = {}
        self._pruned: set[str] = set()

    async def seen(self, provider: str, delivery_id: str) -> bool:
        key = _key(provider, delivery_id)
        if key in self._staged:
            return True
        return key in self._db.provider_deliveries and key not in self._pruned

    async def record(self, delivery: ProviderDelivery, *, job_id: str | None,
                     received_at: datetime) -> None:
        """Stage the record; `ConcurrencyConflict` if this delivery is recorded already."""
        if await self.seen(delivery.provider, delivery.delivery_id):
            raise self._guard.conflict(f"delivery {delivery.delivery_id} is already recorded")
        self._staged[_key(delivery.provider, delivery.delivery_id)] = encode(
            DeliveryRecord(delivery=delivery, job_id=job_id, received_at=received_at))

    async def prune(self, before: datetime) -> int:
        old = {k for k, v in self._db.provider_deliveries.items()
               if decode(v, DeliveryRecord).received_at < before} - self._pruned
        self._pruned |= old
        return len(old)

    def check_commit(self) -> None:
        for key in self._staged:
            if key in self._db.provider_deliveries:
                raise self._guard.conflict(f"delivery {key} was recorded by another unit of work")

    def apply_commit(self) -> None:
        for key in self._pruned:
            self._db.provider_deliveries.pop(key, None)
        self._db.provider_deliveries.update(self._staged)
        self.discard()

    def discard(self) -> None:
        self._staged.clear()
        self._pruned.clear()
