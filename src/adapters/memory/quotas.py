"""Storage quotas in memory: bytes used per user, the limit from the user's plan (free when the
user is unknown). Usage is staged as a delta and added at commit, like SQL's atomic increment."""

from __future__ import annotations

from adapters.memory.store import InMemoryDatabase
from adapters.memory.users import InMemoryUserRepository
from application.ports import QuotaRepository
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
        self._deltas[user_id] = self._deltas.get(user_id, 0) + delta_bytes

    def check_commit(self) -> None:
        """Increments never conflict."""

    def apply_commit(self) -> None:
        for user_id, delta in self._deltas.items():
            self._db.storage_usage[user_id] = self._db.storage_usage.get(user_id, 0) + delta
        self.discard()

    def discard(self) -> None:
        self._deltas.clear()
