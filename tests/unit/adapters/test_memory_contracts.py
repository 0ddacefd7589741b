"""The persistence contracts on the in-memory adapters, plus what only memory can show: two
units that both staged a write before either committed (SQL would block the second writer)."""

from __future__ import annotations

import pytest

from adapters.memory import InMemoryDatabase, InMemoryUnitOfWorkFactory
from application.errors import ConcurrencyConflict
from application.ports import UnitOfWorkFactory
from tests.contracts import queued_job
from tests.contracts.images import ImageRepositoryContract
from tests.contracts.jobs import JobRepositoryContract
from tests.contracts.ledger import LedgerStoreContract
from tests.contracts.quotas import QuotaRepositoryContract
from tests.contracts.uow import UnitOfWorkContract
from tests.contracts.users import UserRepositoryContract

pytestmark = pytest.mark.unit


class MemoryBackend:
    @pytest.fixture
    def uow_factory(self) -> UnitOfWorkFactory:
        return InMemoryUnitOfWorkFactory(InMemoryDatabase())

    @pytest.fixture
    def broken_uow_factory(self) -> UnitOfWorkFactory:
        db = InMemoryDatabase()
        db.unavailable = True
        return InMemoryUnitOfWorkFactory(db)


class TestMemoryJobRepository(MemoryBackend, JobRepositoryContract):
    pass


class TestMemoryLedgerStore(MemoryBackend, LedgerStoreContract):
    pass


class TestMemoryImageRepository(MemoryBackend, ImageRepositoryContract):
    pass


class TestMemoryQuotaRepository(MemoryBackend, QuotaRepositoryContract):
    pass


class TestMemoryUserRepository(MemoryBackend, UserRepositoryContract):
    pass


class TestMemoryUnitOfWork(MemoryBackend, UnitOfWorkContract):
    async def test_a_commit_that_lost_a_race_applies_nothing(
        self, uow_factory: InMemoryUnitOfWorkFactory
    ) -> None:
        async with uow_factory() as uow:
            await uow.jobs.add(queued_job("job_1"))
            await uow.commit()
        first, second = uow_factory(), uow_factory()
        async with first, second:
            mine, theirs = await first.jobs.get("job_1"), await second.jobs.get("job_1")
            assert mine is not None and theirs is not None
            mine.cancel(now=mine.state.created_at)
            theirs.cancel(now=theirs.state.created_at)
            await first.jobs.save(mine)
            await second.jobs.save(theirs)
            await second.quotas.add_usage("user_1", 10)
            await first.commit()
            with pytest.raises(ConcurrencyConflict):
                await second.commit()
        assert uow_factory.db.storage_usage == {}

    def test_each_database_is_its_own(self) -> None:
        assert InMemoryDatabase().jobs is not InMemoryDatabase().jobs
