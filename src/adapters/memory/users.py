"""Users and API keys in memory: unique user ids, unique key hashes, keys of known users only."""

from __future__ import annotations

import msgspec

from adapters.memory.store import InMemoryDatabase, decode, encode
from adapters.persistence import ConflictGuard
from application.errors import NotFound
from application.ports import UserRepository
from domain.accounts import ApiKey, User


class InMemoryUserRepository(UserRepository):
    def __init__(self, db: InMemoryDatabase, guard: ConflictGuard) -> None:
        self._db = db
        self._guard = guard
        self._users: dict[str, bytes] = {}
        self._new_users: set[str] = set()
        self._keys: dict[str, bytes] = {}  # key hash -> ApiKey

    async def get(self, user_id: str) -> User | None:
        return self.peek(user_id)

    async def add(self, user: User) -> None:
        """Stage the user; `ConcurrencyConflict` if the id exists."""
        if await self.get(user.id) is not None:
            raise self._guard.conflict(f"user {user.id} already exists")
        self._users[user.id] = encode(user)
        self._new_users.add(user.id)

    async def set_plan(self, user: User) -> None:
        """Stage `user.plan`; `NotFound` if there is no such user."""
        stored = await self.get(user.id)
        if stored is None:
            raise NotFound("user", user.id)
        self._users[user.id] = encode(msgspec.structs.replace(stored, plan=user.plan))

    async def add_key(self, key: ApiKey) -> None:
        """Stage the key; `NotFound` for an unknown user, `ConcurrencyConflict` on a clash."""
        if await self.get(key.user_id) is None:
            raise NotFound("user", key.user_id)
        if await self.key_by_hash(key.key_hash) is not None or key.id in self._key_ids():
            raise self._guard.conflict(f"API key {key.id} clashes with a stored key")
        self._keys[key.key_hash] = encode(key)

    async def has_project(self, user_id: str, project_id: str) -> bool:
        keys = (decode(d, ApiKey) for d in (*self._db.api_keys.values(), *self._keys.values()))
        return any(k.user_id == user_id and k.project_id == project_id for k in keys)

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        data = self._keys.get(key_hash, self._db.api_keys.get(key_hash))
        return None if data is None else decode(data, ApiKey)

    def peek(self, user_id: str) -> User | None:
        """The user as this unit sees it (staged or committed); synchronous, for quotas."""
        data = self._users.get(user_id, self._db.users.get(user_id))
        return None if data is None else decode(data, User)

    def check_commit(self) -> None:
        if clash := self._new_users & self._db.users.keys():
            raise self._guard.conflict(f"users {sorted(clash)} were added by another unit")
        if self._keys.keys() & self._db.api_keys.keys():
            raise self._guard.conflict("an API key was added by another unit")

    def apply_commit(self) -> None:
        self._db.users.update(self._users)
        self._db.api_keys.update(self._keys)
        self.discard()

    def discard(self) -> None:
        self._users.clear()
        self._new_users.clear()
        self._keys.clear()

    def _key_ids(self) -> set[str]:
        return {decode(d, ApiKey).id for d in {**self._db.api_keys, **self._keys}.values()}
