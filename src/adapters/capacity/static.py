"""The embedded profile's capacity: the in-process worker's fixed number of slots."""

from __future__ import annotations

from application.ports import WorkerCapacity


class StaticWorkerCapacity(WorkerCapacity):
    def __init__(self, slots: int) -> None:
        self._slots = slots

    async def total(self) -> int:
        return self._slots

    async def beat(self, worker_id: str, slots: int, ttl_s: float) -> None:
        self._slots = slots
