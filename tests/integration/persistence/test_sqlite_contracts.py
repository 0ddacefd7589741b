"""The persistence contracts on SQLAlchemy over SQLite (aiosqlite), one database file per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from adapters.persistence.sqlalchemy import (
    SqlAlchemyUnitOfWorkFactory,
    create_engine,
    create_schema,
)
from application.ports import UnitOfWorkFactory
from tests.contracts.images import ImageRepositoryContract
from tests.contracts.jobs import JobRepositoryContract
from tests.contracts.ledger import LedgerStoreContract
from tests.contracts.quotas import QuotaRepositoryContract
from tests.contracts.uow import UnitOfWorkContract
from tests.contracts.users import UserRepositoryContract

pytestmark = pytest.mark.integration


class SqliteBackend:
    @pytest.fixture
    async def uow_factory(self, tmp_path: Path) -> AsyncIterator[UnitOfWorkFactory]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'imagegen.db'}")
        await create_schema(engine)
        yield SqlAlchemyUnitOfWorkFactory(engine)
        await engine.dispose()

    @pytest.fixture
    async def broken_uow_factory(self, tmp_path: Path) -> AsyncIterator[UnitOfWorkFactory]:
        engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'imagegen.db'}")
        yield SqlAlchemyUnitOfWorkFactory(engine)
        await engine.dispose()


class TestSqliteJobRepository(SqliteBackend, JobRepositoryContract):
    pass


class TestSqliteLedgerStore(SqliteBackend, LedgerStoreContract):
    pass


class TestSqliteImageRepository(SqliteBackend, ImageRepositoryContract):
    pass


class TestSqliteQuotaRepository(SqliteBackend, QuotaRepositoryContract):
    pass


class TestSqliteUserRepository(SqliteBackend, UserRepositoryContract):
    pass


class TestSqliteUnitOfWork(SqliteBackend, UnitOfWorkContract):
    async def test_connections_use_wal_foreign_keys_and_a_busy_timeout(
        self, uow_factory: SqlAlchemyUnitOfWorkFactory
    ) -> None:
        async with uow_factory.engine.connect() as conn:
            pragmas = [(await conn.execute(text(f"PRAGMA {name}"))).scalar_one()
                       for name in ("journal_mode", "foreign_keys", "busy_timeout")]
        assert pragmas == ["wal", 1, 5000]
