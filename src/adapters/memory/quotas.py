"""Storage quotas in memory: bytes used per user, the limit from the user's plan (free when the
user is unknown).

Like SQL's conditional UPDATE (ADR 0050), `add_usage` checks the limit against the usage that
is committed plus what this unit already counted, and raises `StorageQuotaExceeded` when the
bytes do not fit. So that two open units cannot both take the last free bytes, a counted
increase is held against the committed usage at once (`db.storage_held`) and given back if
the unit does not commit; the memory store's units run on one event loop, so the check and
the hold happen without a yield in between.
"""

from __future__ import annotations

from adapters.memory.store import InMemoryDatabase
from adapters.memory.users import InMemoryUserRepository
from application.ports import QuotaRepository
from domain.errors import StorageQuotaExceeded
from domain.quota import Plan, StorageQuota


class InMemoryQuotaRepository(QuotaRepository):
    def __init__(self, db: InMemoryDatabase, users: InMemoryUserRepository) -> None:
        self._db = db
        self._users = users
        self._deltas: dict[str, int] = {}

    async def get(self, user_id: str) -> StorageQuota:
        user = self._users.peek(user_id)
        used = self._db.storage_usage.get(user_id, 0) + self._deltas.get(user_id, 0)
        return StorageQuota(plan=user.plan if user else Plan.FREE, used_bytes=used)

    async def add_usage(self, user_id: str, delta_bytes: int) -> None:
        """Count `delta_bytes` if they fit (with what other open units hold), else raise
        `StorageQuotaExceeded` and count nothing."""
        if delta_bytes > 0:
            quota = await self.get(user_id)
            held = self._db.storage_held.get(user_id, 0) - max(0, self._deltas.get(user_id, 0))
            if quota.used_bytes + held + delta_bytes > quota.limit_bytes:
                raise StorageQuotaExceeded(quota.used_bytes + held, delta_bytes, quota.limit_bytes)
        before = max(0, self._deltas.get(user_id, 0))
        self._deltas[user_id] = self._deltas.get(user_id, 0) + delta_bytes
        self._hold(user_id, max(0, self._deltas[user_id]) - before)

    def _hold(self, user_id: str, change: int) -> None:
        held = self._db.storage_held.get(user_id, 0) + change
        if held:
            self._db.storage_held[user_id] = held
        else:
            self._db.storage_held.pop(user_id, None)

    def check_commit(self) -> None:
        """The limit was checked (and the bytes held) when they were counted."""

    def apply_commit(self) -> None:
        for user_id, delta in self._deltas.items():
            self._db.storage_usage[user_id] = max(0, self._db.storage_usage.get(user_id, 0) + delta)
        self.discard()

    def discard(self) -> None:
        for user_id, delta in self._deltas.items():
            self._hold(user_id, -max(0, delta))
        self._deltas.clear()
