"""The IdempotencyStore contract on memory, SQLite and Postgres: one winner per key, even racing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.memory.idempotency import InMemoryIdempotencyStore
from adapters.persistence.sqlalchemy import create_engine, create_schema
from adapters.persistence.sqlalchemy.idempotency import SqlAlchemyIdempotencyStore
from adapters.persistence.sqlalchemy.tables_requests import idempotency_keys
from application.ports import IdempotencyStore
from domain.idempotency import IdempotencyRecord, StoredResponse

pytestmark = pytest.mark.integration

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the store lives; resolved outside the event loop (the Postgres fixture needs that)."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_database").sqlalchemy_url)
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    return "memory"


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[IdempotencyStore]:
    if store_url == "memory":
        yield InMemoryIdempotencyStore()
        return
    engine = create_engine(store_url)
    try:
        await create_schema(engine)
        async with engine.begin() as conn:
            await conn.execute(idempotency_keys.delete())
        yield SqlAlchemyIdempotencyStore(engine)
    finally:
        await engine.dispose()


def _record(key: str = "k", fp: str = "f", at: datetime = T0) -> IdempotencyRecord:
    return IdempotencyRecord(api_key_id="key_1", key=key, fingerprint=fp, created_at=at)


async def test_racing_begins_on_one_key_have_exactly_one_winner(store: IdempotencyStore) -> None:
    results = await asyncio.gather(*(store.begin(_record(fp=f"f{i}"), T0) for i in range(10)))
    winners = [r for r in results if r is None]
    assert len(winners) == 1
    assert len({r.fingerprint for r in results if r is not None}) == 1  # all saw the same winner


async def test_a_completed_response_is_read_back_byte_for_byte(store: IdempotencyStore) -> None:
    await store.begin(_record(), T0)
    body = b'{"id":"job_1"}\x00\xff'
    await store.complete("key_1", "k", StoredResponse(status_code=201, body=body, content_type="application/json"))
    seen = await store.begin(_record(), T0 + timedelta(hours=23))
    assert seen is not None and seen.response == StoredResponse(status_code=201, body=body)
    assert seen.created_at == T0


async def test_a_released_or_expired_key_can_begin_again(store: IdempotencyStore) -> None:
    await store.begin(_record(), T0)
    await store.release("key_1", "k")
    assert await store.begin(_record(fp="g"), T0) is None
    await store.complete("key_1", "k", StoredResponse(status_code=400, body=b"x"))
    await store.release("key_1", "k")  # a completed key is never released
    assert (await store.begin(_record(), T0)) is not None
    later = T0 + timedelta(hours=24)
    assert await store.begin(_record(fp="h", at=later), later) is None
    again = await store.begin(_record(at=later), later)
    assert again is not None and again.fingerprint == "h" and again.in_progress


async def test_an_in_progress_key_abandoned_for_ten_minutes_is_taken_over(store: IdempotencyStore) -> None:
    await store.begin(_record(), T0)
    nine = T0 + timedelta(minutes=9)
    assert await store.begin(_record(at=nine), nine) is not None  # still running: 409
    ten = T0 + timedelta(minutes=10)
    assert await store.begin(_record(fp="g", at=ten), ten) is None
    await store.complete("key_1", "k", StoredResponse(status_code=201, body=b"{}"))
    hour = T0 + timedelta(hours=1)
    assert (await store.begin(_record(at=hour), hour)) is not None  # a completed key stays 24 h


async def test_keys_of_different_api_keys_do_not_collide(store: IdempotencyStore) -> None:
    assert await store.begin(_record(), T0) is None
    other = IdempotencyRecord(api_key_id="key_2", key="k", fingerprint="f", created_at=T0)
    assert await store.begin(other, T0) is None


async def test_a_record_in_doubt_is_kept_and_taken_over_by_one_retry_of_the_same_request(
        store: IdempotencyStore) -> None:
    assert await store.begin(_record(), T0) is None
    await store.mark_in_doubt("key_1", "k")
    await store.release("key_1", "k")  # a release does not forget a record in doubt
    later = T0 + timedelta(minutes=30)  # past ABANDONED_AFTER: still not replaced
    existing = await store.begin(_record(at=later), later)
    assert existing is not None and existing.in_doubt and not existing.in_progress
    assert not await store.resume(_record(fp="other"), later)  # another request: no
    taken = await asyncio.gather(*(store.resume(_record(at=later), later) for _ in range(5)))
    assert sorted(taken) == [False] * 4 + [True]
    again = await store.begin(_record(at=later), later)
    assert again is not None and again.in_progress and again.created_at == later
