"""Users and API keys in memory: unique user ids, unique key hashes, keys of known users only."""

from __future__ import annotations

from datetime import datetime

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
        self._keys: dict[str, bytes] = {}  # key hash -> ApiKey (new keys)
        self._key_updates: dict[str, bytes] = {}  # key hash -> ApiKey (revoked or touched)

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
        data = self._keys.get(key_hash) or self._key_updates.get(key_hash) or self._db.api_keys.get(key_hash)
        return None if data is None else decode(data, ApiKey)

    async def key_by_id(self, key_id: str) -> ApiKey | None:
        return next((k for k in self._all_keys() if k.id == key_id), None)

    async def list_keys(self, user_id: str | None, *, limit: int) -> list[ApiKey]:
        keys = [k for k in self._all_keys() if user_id is None or k.user_id == user_id]
        return sorted(keys, key=lambda k: (k.created_at, k.id), reverse=True)[:limit]

    async def revoke_key(self, key_id: str, at: datetime) -> None:
        """Stage `revoked_at` once; `NotFound` for an unknown key."""
        key = await self.key_by_id(key_id)
        if key is None:
            raise NotFound("key", key_id)
        if key.revoked_at is None:
            self._stage_update(msgspec.structs.replace(key, revoked_at=at))

    async def touch_key(self, key_id: str, at: datetime) -> None:
        key = await self.key_by_id(key_id)
        if key is not None:
            self._stage_update(msgspec.structs.replace(key, last_used_at=at))

    async def set_admin(self, user_id: str, is_admin: bool) -> None:
        stored = await self.get(user_id)
        if stored is None:
            raise NotFound("user", user_id)
        self._users[user_id] = encode(msgspec.structs.replace(stored, is_admin=is_admin))

    def _stage_update(self, key: ApiKey) -> None:
        target = self._keys if key.key_hash in self._keys else self._key_updates
        target[key.key_hash] = encode(key)

    def _all_keys(self) -> list[ApiKey]:
        merged = {**self._db.api_keys, **self._key_updates, **self._keys}
        return [decode(d, ApiKey) for d in merged.values()]

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
        self._db.api_keys.update(self._key_updates)
        self._db.api_keys.update(self._keys)
        self.discard()

    def discard(self) -> None:
        self._users.clear()
        self._new_users.clear()
        self._keys.clear()
        self._key_updates.clear()

    def _key_ids(self) -> set[str]:
        return {decode(d, ApiKey).id for d in {**self._db.api_keys, **self._keys}.values()}
