"""Batches in memory, staged until the unit of work commits."""

from __future__ import annotations

from adapters.memory.store import InMemoryDatabase, decode, encode
from adapters.persistence import ConflictGuard
from application.ports import BatchRepository
from domain.batches import Batch


class InMemoryBatchRepository(BatchRepository):
    def __init__(self, db: InMemoryDatabase, guard: ConflictGuard) -> None:
        self._db = db
        self._guard = guard
        self._staged: dict[str, bytes] = {}

    async def add(self, batch: Batch) -> None:
        """Stage the batch; `ConcurrencyConflict` if the id exists."""
        if batch.id in self._staged or batch.id in self._db.batches:
            raise self._guard.conflict(f"batch {batch.id} already exists")
        self._staged[batch.id] = encode(batch)

    async def get(self, batch_id: str) -> Batch | None:
        data = self._staged.get(batch_id, self._db.batches.get(batch_id))
        return None if data is None else decode(data, Batch)

    def check_commit(self) -> None:
        if clash := self._staged.keys() & self._db.batches.keys():
            raise self._guard.conflict(f"batches {sorted(clash)} were added by another unit")

    def apply_commit(self) -> None:
        self._db.batches.update(self._staged)
        self.discard()

    def discard(self) -> None:
        self._staged.clear()
