"""Read-only units of work on Postgres open no transaction (ADR 0065).

A unit runs its reads in autocommit and begins its transaction at its first write or locking
read; the pool's pre-ping is one empty query outside a transaction. Seen from another session
through `pg_stat_activity`: a unit that has only read is `idle`, one that has written is
`idle in transaction`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text

from adapters.persistence.sqlalchemy import SqlAlchemyUnitOfWorkFactory, create_engine
from adapters.persistence.sqlalchemy.tables import users

pytestmark = pytest.mark.integration


@pytest.fixture
async def factory(migrated_postgres: str) -> AsyncIterator[SqlAlchemyUnitOfWorkFactory]:
    engine = create_engine(migrated_postgres, pool_size=1, max_overflow=0, pool_pre_ping=True)
    yield SqlAlchemyUnitOfWorkFactory(engine)
    await engine.dispose()


async def _state(url: str, pid: int) -> str:
    observer = create_engine(url)
    try:
        async with observer.connect() as conn:
            return (await conn.execute(text("SELECT state FROM pg_stat_activity WHERE pid = :p"),
                                       {"p": pid})).scalar_one()
    finally:
        await observer.dispose()


async def _pid(uow) -> int:  # type: ignore[no-untyped-def]
    return (await uow._db.execute("pid", select(func.pg_backend_pid()))).scalar_one()  # type: ignore[no-any-return]


async def test_a_unit_that_only_reads_is_not_in_a_transaction(
        factory: SqlAlchemyUnitOfWorkFactory, migrated_postgres: str) -> None:
    async with factory() as uow:
        pid = await _pid(uow)
        assert await uow.users.get("nobody-reads-here") is None
        assert await _state(migrated_postgres, pid) == "idle"


async def test_a_write_or_an_account_lock_opens_the_transaction(
        factory: SqlAlchemyUnitOfWorkFactory, migrated_postgres: str) -> None:
    async with factory() as uow:
        pid = await _pid(uow)
        await uow.lock_account("read-units-lock")
        assert await _state(migrated_postgres, pid) == "idle in transaction"
    async with factory() as uow:  # the same pooled connection, rolled back: nothing kept
        assert await _pid(uow) == pid
        assert await _state(migrated_postgres, pid) == "idle"
        await uow._db.execute("write", users.insert().values(
            id="read-units-user", plan="free", is_admin=False, created_at=func.now()))
        assert await _state(migrated_postgres, pid) == "idle in transaction"
    async with factory() as uow:  # left without commit: the insert was rolled back
        assert await uow.users.get("read-units-user") is None


async def test_the_pooled_connection_goes_back_transactional(
        factory: SqlAlchemyUnitOfWorkFactory) -> None:
    async with factory() as uow:
        await uow.users.get("nobody")
    with pytest.raises(RuntimeError):
        async with factory.engine.begin() as conn:  # the same connection (pool of one)
            await conn.execute(users.insert().values(
                id="read-units-rolled-back", plan="free", is_admin=False, created_at=func.now()))
            raise RuntimeError("abort")
    async with factory() as uow:
        assert await uow.users.get("read-units-rolled-back") is None
