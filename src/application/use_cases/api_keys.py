"""API keys: create (shown once, stored as a hash), authenticate, list, revoke and rotate.

Authentication goes through `KeyCache`, a short in-process cache by key hash: a revocation is
seen at once by the process that made it (it evicts the entry) and within `ttl_s` everywhere
else. `last_used_at` is written at most once per `touch_every_s` per key and process, so a
request does not cost a write (ADR 0090).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import msgspec

from application.conflicts import retry_on_conflict
from application.errors import NotFound, Unauthorized
from application.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory
from application.principal import Principal
from domain.accounts import ApiKey, User, hash_api_key, user_id_problem
from domain.errors import InvalidRequest
from domain.quota import Plan

KEY_PREFIX = "ig_"
MAX_LISTED = 200


class IssuedKey(msgspec.Struct, frozen=True, kw_only=True):
    secret: str
    key: ApiKey
    user_created: bool = False
    promoted: bool = False  # an existing user was made admin by this call


def check_user_id(user_id: str) -> None:
    """Raise InvalidRequest on the `user` field for an empty or malformed user id."""
    problem = user_id_problem(user_id)
    if problem is not None:
        raise InvalidRequest("user", problem)


async def create_user(uow: UnitOfWork, user_id: str, *, now: datetime, starter_credits: int,
                      plan: Plan = Plan.FREE, admin: bool = False) -> None:
    """Add the user and grant its starter credits, in the caller's unit."""
    await uow.users.add(User(id=user_id, plan=plan, created_at=now, is_admin=admin))
    if starter_credits > 0:
        ledger = await uow.ledgers.load(user_id)
        ledger.grant(starter_credits, now=now, reason="starter credits")
        await uow.ledgers.append(ledger)


class KeyCache:
    """Principals by key hash for `ttl_s` seconds, with the key's expiry and last touch."""

    def __init__(self, *, clock: Clock, ttl_s: float = 5.0, max_entries: int = 10_000) -> None:
        self._clock, self._ttl = clock, timedelta(seconds=ttl_s)
        self._max = max_entries
        self._entries: dict[str, tuple[datetime, ApiKey, Principal]] = {}

    def get(self, key_hash: str) -> tuple[ApiKey, Principal] | None:
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] <= self._clock.now():
            self._entries.pop(key_hash, None)
            return None
        return entry[1], entry[2]

    def put(self, key: ApiKey, principal: Principal) -> None:
        if len(self._entries) >= self._max:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key.key_hash] = (self._clock.now() + self._ttl, key, principal)

    def evict(self, key_hash: str) -> None:
        self._entries.pop(key_hash, None)

    def evict_user(self, user_id: str) -> None:
        for key_hash in [h for h, (_, k, _) in self._entries.items() if k.user_id == user_id]:
            self._entries.pop(key_hash, None)


class CreateApiKey:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator,
                 starter_credits: int = 0, cache: KeyCache | None = None) -> None:
        self._uow, self._clock, self._ids = uow, clock, ids
        self._starter, self._cache = starter_credits, cache

    async def __call__(self, user_id: str, *, admin: bool = False, plan: Plan = Plan.FREE,
                       project_id: str | None = None, expires_at: datetime | None = None) -> IssuedKey:
        """Create the user on first use (with the starter credits), then a new key.

        `admin=True` makes a new user an admin and promotes an existing one (`promoted`). The
        secret is returned only here. Raises InvalidRequest for a bad user id or a past expiry.
        """
        check_user_id(user_id)
        if expires_at is not None and expires_at <= self._clock.now():
            raise InvalidRequest("expiresAt", "must be in the future")

        async def attempt() -> IssuedKey:
            now = self._clock.now()
            secret = KEY_PREFIX + secrets.token_urlsafe(32)
            key = ApiKey(id=self._ids.new_id("key"), user_id=user_id, key_hash=hash_api_key(secret),
                         prefix=secret[:10], created_at=now, project_id=project_id, expires_at=expires_at)
            created = promoted = False
            async with self._uow() as uow:
                user = await uow.users.get(user_id)
                if user is None:
                    await create_user(uow, user_id, now=now, starter_credits=self._starter,
                                      plan=plan, admin=admin)
                    created = True
                elif admin and not user.is_admin:
                    await uow.users.set_admin(user_id, True)
                    promoted = True
                await uow.users.add_key(key)
                await uow.commit()
            if promoted and self._cache is not None:
                self._cache.evict_user(user_id)
            return IssuedKey(secret=secret, key=key, user_created=created, promoted=promoted)

        return await retry_on_conflict(attempt)


class Authenticate:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, cache: KeyCache,
                 touch_every_s: float = 60.0) -> None:
        self._uow, self._clock, self._cache = uow, clock, cache
        self._touch_every = timedelta(seconds=touch_every_s)

    async def __call__(self, secret: str | None) -> Principal:
        """Raise Unauthorized for a missing, unknown, revoked or expired key."""
        if not secret:
            raise Unauthorized("missing API key")
        key_hash = hash_api_key(secret)
        cached = self._cache.get(key_hash)
        if cached is None:
            async with self._uow() as uow:
                key = await uow.users.key_by_hash(key_hash)
                user = await uow.users.get(key.user_id) if key else None
            if key is None or user is None:
                raise Unauthorized("invalid API key")
            principal = Principal(user_id=user.id, key_id=key.id, is_admin=user.is_admin,
                                  project_id=key.project_id)
            self._cache.put(key, principal)
        else:
            key, principal = cached
        now = self._clock.now()
        if key.revoked_at is not None:
            raise Unauthorized("API key revoked")
        if not key.usable_at(now):
            raise Unauthorized("API key expired")
        if key.last_used_at is None or now - key.last_used_at >= self._touch_every:
            await self._touch(key, principal, now)
        return principal

    async def _touch(self, key: ApiKey, principal: Principal, now: datetime) -> None:
        self._cache.put(msgspec.structs.replace(key, last_used_at=now), principal)  # before the write
        async with self._uow() as uow:
            await uow.users.touch_key(key.id, now)
            await uow.commit()


class ListApiKeys:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, user_id: str | None, *, limit: int = MAX_LISTED) -> list[ApiKey]:
        """Keys of `user_id` (all users' when None), newest first; never the secrets."""
        if user_id is not None:
            check_user_id(user_id)
        async with self._uow() as uow:
            return await uow.users.list_keys(user_id, limit=min(max(limit, 1), MAX_LISTED))


class RevokeApiKey:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock, cache: KeyCache) -> None:
        self._uow, self._clock, self._cache = uow, clock, cache

    async def __call__(self, key_id: str) -> ApiKey:
        """Revoke `key_id` (idempotent); effective at once in this process. NotFound if unknown."""
        async with self._uow() as uow:
            await uow.users.revoke_key(key_id, self._clock.now())
            key = await uow.users.key_by_id(key_id)
            await uow.commit()
        if key is None:
            raise NotFound("key", key_id)
        self._cache.evict(key.key_hash)
        return key


class RotateApiKey:
    def __init__(self, *, uow: UnitOfWorkFactory, create: CreateApiKey, revoke: RevokeApiKey) -> None:
        self._uow, self._create, self._revoke = uow, create, revoke

    async def __call__(self, key_id: str) -> IssuedKey:
        """A new key for the same user, project and expiry, then the old one revoked.

        Raises NotFound for an unknown key and InvalidRequest for a revoked or expired one.
        """
        async with self._uow() as uow:
            old = await uow.users.key_by_id(key_id)
        if old is None:
            raise NotFound("key", key_id)
        if old.revoked_at is not None:
            raise InvalidRequest("keyId", "is revoked; create a new key instead")
        issued = await self._create(old.user_id, project_id=old.project_id, expires_at=old.expires_at)
        await self._revoke(key_id)
        return issued
