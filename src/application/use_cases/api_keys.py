"""CreateApiKey and Authenticate: bearer keys, shown once and stored only as hashes."""

from __future__ import annotations

import secrets

import msgspec

from application.errors import Unauthorized
from application.ports import Clock, IdGenerator, UnitOfWorkFactory
from application.principal import Principal
from domain.accounts import ApiKey, User, hash_api_key
from domain.quota import Plan

KEY_PREFIX = "ig_"


class IssuedKey(msgspec.Struct, frozen=True, kw_only=True):
    secret: str
    key: ApiKey


class CreateApiKey:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids

    async def __call__(self, user_id: str, *, admin: bool = False, plan: Plan = Plan.FREE,
                       project_id: str | None = None) -> IssuedKey:
        """Create the user on first use, then a new key; the secret is returned only here."""
        now = self._clock.now()
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(id=self._ids.new_id("key"), user_id=user_id, key_hash=hash_api_key(secret),
                     prefix=secret[:10], created_at=now, project_id=project_id)
        async with self._uow() as uow:
            if await uow.users.get(user_id) is None:
                await uow.users.add(User(id=user_id, plan=plan, created_at=now, is_admin=admin))
            await uow.users.add_key(key)
            await uow.commit()
        return IssuedKey(secret=secret, key=key)


class Authenticate:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, secret: str | None) -> Principal:
        """Raise Unauthorized for a missing, unknown or revoked key."""
        if not secret:
            raise Unauthorized("missing API key")
        async with self._uow() as uow:
            key = await uow.users.key_by_hash(hash_api_key(secret))
            user = await uow.users.get(key.user_id) if key else None
        if key is None or user is None or key.revoked_at is not None:
            raise Unauthorized("invalid API key")
        return Principal(user_id=user.id, key_id=key.id, is_admin=user.is_admin,
                         project_id=key.project_id)
