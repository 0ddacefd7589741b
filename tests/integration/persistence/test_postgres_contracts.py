"""The persistence contracts on SQLAlchemy over Postgres (asyncpg).

The schema is created once per session in the throw-away database of `postgres_database`;
every test starts from emptied tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.persistence.sqlalchemy import (
    SqlAlchemyUnitOfWorkFactory,
    create_engine,
)
from adapters.persistence.sqlalchemy.engine import translated_errors
from adapters.persistence.sqlalchemy.tables import metadata, storage_usage
from application.errors import ConcurrencyConflict
from application.ports import UnitOfWorkFactory
from tests.contracts.images import ImageRepositoryContract
from tests.contracts.jobs import JobRepositoryContract
from tests.contracts.ledger import LedgerStoreContract
from tests.contracts.quotas import QuotaRepositoryContract
from tests.contracts.uow import UnitOfWorkContract
from tests.contracts.users import UserRepositoryContract

pytestmark = pytest.mark.integration

# DELETE is much faster than TRUNCATE on tables this small.
_EMPTY_TABLES = [t.delete() for t in reversed(metadata.sorted_tables)]


class PostgresBackend:
    @pytest.fixture
    async def uow_factory(self, migrated_postgres: str) -> AsyncIterator[UnitOfWorkFactory]:
        engine = create_engine(migrated_postgres)
        async with engine.begin() as conn:
            for statement in _EMPTY_TABLES:
                await conn.execute(statement)
        yield SqlAlchemyUnitOfWorkFactory(engine)
        await engine.dispose()

    @pytest.fixture
    async def broken_uow_factory(self) -> AsyncIterator[UnitOfWorkFactory]:
        engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
        yield SqlAlchemyUnitOfWorkFactory(engine)
        await engine.dispose()


class TestPostgresJobRepository(PostgresBackend, JobRepositoryContract):
    pass


class TestPostgresLedgerStore(PostgresBackend, LedgerStoreContract):
    pass


class TestPostgresImageRepository(PostgresBackend, ImageRepositoryContract):
    pass


class TestPostgresQuotaRepository(PostgresBackend, QuotaRepositoryContract):
    pass


class TestPostgresUserRepository(PostgresBackend, UserRepositoryContract):
    pass


class TestPostgresUnitOfWork(PostgresBackend, UnitOfWorkContract):
    pass


class TestPostgresErrorTranslation(PostgresBackend):
    async def test_a_deadlock_is_a_concurrency_conflict(
        self, uow_factory: SqlAlchemyUnitOfWorkFactory
    ) -> None:
        async with uow_factory.engine.connect() as first, uow_factory.engine.connect() as second:
            for conn, account in ((first, "acct_a"), (second, "acct_b")):
                await conn.execute(storage_usage.insert().values(user_id=account, used_bytes=0))
            await first.commit()
            await second.commit()
            await first.execute(_add_usage("acct_a"))
            await second.execute(_add_usage("acct_b"))

            async def cross(conn: AsyncConnection, account: str, delay: float) -> None:
                await asyncio.sleep(delay)
                with translated_errors("cross update"):
                    await conn.execute(_add_usage(account))

            results = await asyncio.gather(cross(first, "acct_b", 0), cross(second, "acct_a", 0.1),
                                           return_exceptions=True)
            await first.rollback()
            await second.rollback()
        assert [type(r) for r in results if r is not None] == [ConcurrencyConflict]


def _add_usage(user_id: str) -> Update:
    return (storage_usage.update().where(storage_usage.c.user_id == user_id)
            .values(used_bytes=storage_usage.c.used_bytes + 1))
