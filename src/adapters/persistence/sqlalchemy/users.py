"""Users and their API keys in SQL. Keys are looked up by the SHA-256 of the secret only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.engine import Row

from adapters.persistence.sqlalchemy.engine import GuardedConnection
from adapters.persistence.sqlalchemy.tables import api_keys, users
from application.errors import NotFound
from application.ports import UserRepository
from domain.accounts import ApiKey, User
from domain.quota import Plan


def _user_to_row(user: User) -> dict[str, Any]:
    return {**msgspec.structs.asdict(user), "plan": user.plan.value}


def _user_to_domain(row: Row[Any]) -> User:
    return User(id=row.id, plan=Plan(row.plan), is_admin=row.is_admin, created_at=row.created_at)


def _key_to_row(key: ApiKey) -> dict[str, Any]:
    return msgspec.structs.asdict(key)


def _key_to_domain(row: Row[Any]) -> ApiKey:
    return ApiKey(**row._mapping)


class SqlAlchemyUserRepository(UserRepository):
    def __init__(self, db: GuardedConnection) -> None:
        self._db = db

    async def get(self, user_id: str) -> User | None:
        query = select(users).where(users.c.id == user_id)
        row = (await self._db.execute(f"get user {user_id}", query)).first()
        return None if row is None else _user_to_domain(row)

    async def add(self, user: User) -> None:
        """Insert the user; `ConcurrencyConflict` if the id exists."""
        await self._db.execute(f"add user {user.id}", users.insert().values(_user_to_row(user)))

    async def set_plan(self, user: User) -> None:
        """Store `user.plan`; `NotFound` if there is no such user."""
        statement = users.update().where(users.c.id == user.id).values(plan=user.plan.value)
        result = await self._db.execute(f"set plan of {user.id}", statement)
        if result.rowcount != 1:
            raise NotFound("user", user.id)

    async def add_key(self, key: ApiKey) -> None:
        """Insert the key; `NotFound` for an unknown user, `ConcurrencyConflict` on a clash."""
        if await self.get(key.user_id) is None:
            raise NotFound("user", key.user_id)
        await self._db.execute(f"add API key {key.id}", api_keys.insert().values(_key_to_row(key)))

    async def has_project(self, user_id: str, project_id: str) -> bool:
        query = select(api_keys.c.id).where(api_keys.c.user_id == user_id,
                                            api_keys.c.project_id == project_id).limit(1)
        return (await self._db.execute("look up a project of the user", query)).first() is not None

    async def key_by_hash(self, key_hash: str) -> ApiKey | None:
        query = select(api_keys).where(api_keys.c.key_hash == key_hash)
        row = (await self._db.execute("look up an API key", query)).first()
        return None if row is None else _key_to_domain(row)

    async def key_by_id(self, key_id: str) -> ApiKey | None:
        row = (await self._db.execute(f"get API key {key_id}",
                                      select(api_keys).where(api_keys.c.id == key_id))).first()
        return None if row is None else _key_to_domain(row)

    async def list_keys(self, user_id: str | None, *, limit: int) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.created_at.desc(), api_keys.c.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(api_keys.c.user_id == user_id)
        return [_key_to_domain(r) for r in await self._db.execute("list API keys", query)]

    async def revoke_key(self, key_id: str, at: datetime) -> None:
        """Set `revoked_at` once (a second revoke keeps the first time); `NotFound` if unknown."""
        if await self.key_by_id(key_id) is None:
            raise NotFound("key", key_id)
        statement = (api_keys.update().where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                     .values(revoked_at=at))
        await self._db.execute(f"revoke API key {key_id}", statement)

    async def touch_key(self, key_id: str, at: datetime) -> None:
        statement = api_keys.update().where(api_keys.c.id == key_id).values(last_used_at=at)
        await self._db.execute(f"touch API key {key_id}", statement)

    async def set_admin(self, user_id: str, is_admin: bool) -> None:
        statement = users.update().where(users.c.id == user_id).values(is_admin=is_admin)
        result = await self._db.execute(f"set admin of {user_id}", statement)
        if result.rowcount != 1:
            raise NotFound("user", user_id)
