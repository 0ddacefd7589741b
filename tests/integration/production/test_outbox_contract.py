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
from adapters.persistence.sqlalchemy.client_webhooks import SqlAlchemyWebhookStore
from domain.jobs import JobStatus, JobStatusChanged
from domain.webhooks import WebhookEndpoint
from tests.contracts import at
from tests.contracts.outbox import OutboxRepositoryContract, claim, message
from tests.integration.production.conftest import empty_tables

pytestmark = pytest.mark.integration


class SqlOutbox(OutboxRepositoryContract):
    async def add_endpoint(self, user_id: str) -> None:
        await SqlAlchemyWebhookStore(self._uow_factory.engine).add_endpoint(WebhookEndpoint(  # type: ignore[attr-defined]
            id=f"ep_{user_id}", user_id=user_id, url="https://example.com/hook",
            event_types=("job.completed",), secret="whsec_x", created_at=at(0)))

    async def test_events_of_users_without_an_endpoint_are_not_recorded(self) -> None:
        event = JobStatusChanged(job_id="job_e", user_id="user_plain", status=JobStatus.QUEUED,
                                 progress_percent=0, current_step="queued", occurred_at=at(1))
        async with self.make_uow() as uow:
            await uow.outbox.add_job_events([event], ids=["evt_1"])
            await uow.commit()
        async with self.make_uow() as uow:
            assert await claim(uow) == []


class TestSqliteOutboxRepository(SqlOutbox):
    @pytest.fixture
    async def uow_factory(self, tmp_path: Path) -> AsyncIterator[UnitOfWorkFactory]:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'imagegen.db'}")
        await create_schema(engine)
        yield SqlAlchemyUnitOfWorkFactory(engine)
        await engine.dispose()


class TestPostgresOutboxRepository(SqlOutbox):
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
                claimed = await claim(uow, limit=3)
                holding.set()
                await release.wait()  # keep the row locks while the other relay claims
                await uow.commit()
            return [m.id for m in claimed]

        async def second() -> list[str]:
            await holding.wait()
            async with uow_factory() as uow:
                claimed = await claim(uow, limit=10)
                await uow.commit()
            release.set()
            return [m.id for m in claimed]

        a, b = await asyncio.wait_for(asyncio.gather(first(), second()), timeout=10)
        assert a == ["m0", "m1", "m2"]
        assert b == ["m3", "m4", "m5"]
