"""API keys on the memory adapters: the auth cache, revocation, expiry, rotation, last-used.

Two `KeyCache`s over one database stand for two processes (two API replicas).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.clock import FakeClock
from adapters.ids import UlidIdGenerator
from adapters.memory.store import InMemoryDatabase
from adapters.memory.uow import InMemoryUnitOfWork
from application.errors import NotFound, Unauthorized
from application.use_cases.api_keys import (
    Authenticate, CreateApiKey, KeyCache, ListApiKeys, RevokeApiKey, RotateApiKey,
)
from application.use_cases.credits import GetBalance
from domain.errors import InvalidRequest

TTL = 5.0


class Process:
    """One process's use cases: its own cache, the shared database."""

    def __init__(self, db: InMemoryDatabase, clock: FakeClock, *, starter: int = 100) -> None:
        self.uow = lambda: InMemoryUnitOfWork(db)
        self.cache = KeyCache(clock=clock, ttl_s=TTL)
        self.create = CreateApiKey(uow=self.uow, clock=clock, ids=UlidIdGenerator(), starter_credits=starter,
                                   cache=self.cache)
        self.auth = Authenticate(uow=self.uow, clock=clock, cache=self.cache, touch_every_s=60)
        self.revoke = RevokeApiKey(uow=self.uow, clock=clock, cache=self.cache)
        self.rotate = RotateApiKey(uow=self.uow, create=self.create, revoke=self.revoke)
        self.list = ListApiKeys(uow=self.uow)
        self.balance = GetBalance(uow=self.uow)


@pytest.fixture
def world():
    db, clock = InMemoryDatabase(), FakeClock()
    return db, clock, Process(db, clock), Process(db, clock)


async def test_a_revoked_key_is_refused_at_once_here_and_within_the_ttl_elsewhere(world) -> None:
    _, clock, here, there = world
    issued = await here.create("alice")
    assert (await there.auth(issued.secret)).user_id == "alice"  # `there` has it cached now

    await here.revoke(issued.key.id)

    with pytest.raises(Unauthorized, match="revoked"):
        await here.auth(issued.secret)
    clock.advance(TTL + 0.1)
    with pytest.raises(Unauthorized, match="revoked"):
        await there.auth(issued.secret)


async def test_a_key_past_its_expiry_is_refused_even_from_the_cache(world) -> None:
    _, clock, here, _ = world
    issued = await here.create("bob", expires_at=clock.now() + timedelta(seconds=2))
    assert (await here.auth(issued.secret)).user_id == "bob"
    clock.advance(2)
    with pytest.raises(Unauthorized, match="expired"):
        await here.auth(issued.secret)
    with pytest.raises(InvalidRequest, match="future"):
        await here.create("bob", expires_at=clock.now())


async def test_last_used_is_written_at_most_once_a_minute_per_key(world) -> None:
    _, clock, here, _ = world
    issued = await here.create("carol")
    writes: list[object] = []
    await here.auth(issued.secret)
    first = (await here.list("carol"))[0].last_used_at
    assert first == clock.now()
    for _ in range(50):
        clock.advance(1)
        await here.auth(issued.secret)
        writes.append((await here.list("carol"))[0].last_used_at)
    assert len(set(writes)) == 1 and writes[0] == first  # 50 s later: still the first touch
    clock.advance(11)
    await here.auth(issued.secret)
    assert (await here.list("carol"))[0].last_used_at == clock.now()


async def test_rotation_issues_a_new_key_and_revokes_the_old(world) -> None:
    _, _, here, _ = world
    old = await here.create("dave", project_id="proj_1")
    new = await here.rotate(old.key.id)
    assert new.key.project_id == "proj_1" and new.key.user_id == "dave"
    assert (await here.auth(new.secret)).user_id == "dave"
    with pytest.raises(Unauthorized):
        await here.auth(old.secret)
    with pytest.raises(InvalidRequest, match="revoked"):
        await here.rotate(old.key.id)
    with pytest.raises(NotFound):
        await here.rotate("key_missing")


async def test_a_key_for_a_new_user_brings_the_starter_credits_and_admin_promotes(world) -> None:
    _, _, here, _ = world
    first = await here.create("erin")
    assert first.user_created and (await here.balance("erin")).available == 100
    again = await here.create("erin", admin=True)
    assert again.promoted and not again.user_created
    assert (await here.auth(first.secret)).is_admin  # the promotion reaches the old key too
    assert (await here.balance("erin")).available == 100  # no second starter grant


@pytest.mark.parametrize("user", ["", " x", "a/b", "é", "x" * 65])
async def test_bad_user_ids_are_refused_on_the_user_field(world, user: str) -> None:
    _, _, here, _ = world
    with pytest.raises(InvalidRequest) as caught:
        await here.create(user)
    assert caught.value.field == "user"
