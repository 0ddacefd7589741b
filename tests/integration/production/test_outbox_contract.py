"""The outbox contract on SQLite and Postgres, and Postgres's SKIP LOCKED claim."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.persistence.sqlalchemy import (
    SqlAlchemyUnitOfWorkFactory,
    create_engine,
    create_schema,
)
from application.ports import UnitOfWorkFactory
from tests.contracts.outbox import OutboxRepositoryContract, message
from tests.integration.production.conftest import empty_tables

pytestmark = pytest.mark.integration


class TestSqliteOutboxRepository(OutboxRepositoryContract):
    @pytest.fixture
    async def uow_factory(self, tmp_path: Path) -> AsyncIterator[UnitOfWorkFactory]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'imagegen.db'}")
        await create_schema(engine)
        yield SqlAlchemyUnitOfWorkFactory(engine)
        await engine.dispose()


class TestPostgresOutboxRepository(OutboxRepositoryContract):
    @pytest.fixture
    async def uow_factory(self, migrated_postgres: str) -> AsyncIterator[UnitOfWorkFactory]:
        engine = create_engine(migrated_postgres)
        await empty_tables(engine)
        yield SqlAlchemyUnitOfWorkFactory(engine)
        await engine.dispose()

    async def test_two_concurrent_relays_claim_disjoint_messages(
        self, uow_factory: SqlAlchemyUnitOfWorkFactory
    ) -> None:
        async with uow_factory() as uow:
            for index in range(6):
                await uow.outbox.add(message(f"m{index}", seconds=index))
            await uow.commit()
        holding = asyncio.Event()
        release = asyncio.Event()

        async def first() -> list[str]:
            async with uow_factory() as uow:
                claimed = await uow.outbox.claim_undispatched(3)
                holding.set()
                await release.wait()  # keep the row locks while the other relay claims
                await uow.commit()
            return [m.id for m in claimed]

        async def second() -> list[str]:
            await holding.wait()
            async with uow_factory() as uow:
                claimed = await uow.outbox.claim_undispatched(10)
                await uow.commit()
            release.set()
            return [m.id for m in claimed]

        a, b = await asyncio.wait_for(asyncio.gather(first(), second()), timeout=10)
        assert a == ["m0", "m1", "m2"]
        assert b == ["m3", "m4", "m5"]
