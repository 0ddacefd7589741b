"""The `UnitOfWork` contract: all or nothing, rollback unless committed, outages reported."""

from __future__ import annotations

import pytest

from application.errors import ConcurrencyConflict, ServiceUnavailable
from application.ports import UnitOfWork, UnitOfWorkFactory
from domain.accounts import User
from domain.quota import Plan
from tests.contracts import PersistenceContract, at, queued_job
from tests.contracts.images import stored_image


class UnitOfWorkContract(PersistenceContract):
    @pytest.fixture
    def broken_uow_factory(self) -> UnitOfWorkFactory:
        raise NotImplementedError("a backend subclass provides a factory whose store is down")

    async def _write_one_of_everything(self, uow: UnitOfWork) -> None:
        await uow.jobs.add(queued_job("job_1"))
        ledger = await uow.ledgers.load("acct_1")
        ledger.grant(10, now=at(0))
        await uow.ledgers.append(ledger)
        await uow.images.add(stored_image("img_1"))
        await uow.users.add(User(id="user_1", plan=Plan.PRO, created_at=at(0)))
        await uow.quotas.add_usage("user_1", 100)

    async def _assert_nothing_stored(self) -> None:
        async with self.make_uow() as uow:
            assert await uow.jobs.get("job_1") is None
            assert await uow.ledgers.account_ids() == []
            assert await uow.images.get("img_1") is None
            assert (await uow.quotas.get("user_1")).used_bytes == 0
            assert await uow.users.get("user_1") is None

    async def test_an_uncommitted_unit_leaves_no_trace(self) -> None:
        async with self.make_uow() as uow:
            await self._write_one_of_everything(uow)
        await self._assert_nothing_stored()

    async def test_an_exception_inside_the_unit_rolls_everything_back(self) -> None:
        with pytest.raises(RuntimeError):
            async with self.make_uow() as uow:
                await self._write_one_of_everything(uow)
                raise RuntimeError("boom")
        await self._assert_nothing_stored()

    async def test_a_committed_unit_stores_everything_together(self) -> None:
        async with self.make_uow() as uow:
            await self._write_one_of_everything(uow)
            await uow.commit()
        async with self.make_uow() as uow:
            assert await uow.jobs.get("job_1") is not None
            assert await uow.ledgers.account_ids() == ["acct_1"]
            assert await uow.images.get("img_1") is not None
            quota = await uow.quotas.get("user_1")
        assert (quota.plan, quota.used_bytes) == (Plan.PRO, 100)

    async def test_writes_after_a_commit_need_their_own_commit(self) -> None:
        async with self.make_uow() as uow:
            await uow.jobs.add(queued_job("job_1"))
            await uow.commit()
            await uow.jobs.add(queued_job("job_2"))
        async with self.make_uow() as uow:
            assert await uow.jobs.get("job_1") is not None
            assert await uow.jobs.get("job_2") is None

    async def test_a_unit_that_lost_a_race_cannot_commit_its_other_writes(self) -> None:
        async with self.make_uow() as uow:
            await uow.jobs.add(queued_job("job_1"))
            await uow.commit()
        async with self.make_uow() as uow:
            await uow.jobs.add(queued_job("job_2"))
            with pytest.raises(ConcurrencyConflict):
                await uow.jobs.add(queued_job("job_1"))
            with pytest.raises(ConcurrencyConflict):
                await uow.commit()
        async with self.make_uow() as uow:
            assert await uow.jobs.get("job_2") is None
            await uow.jobs.add(queued_job("job_2"))
            await uow.commit()

    async def test_an_unreachable_store_is_service_unavailable(
        self, broken_uow_factory: UnitOfWorkFactory
    ) -> None:
        with pytest.raises(ServiceUnavailable):
            async with broken_uow_factory():
                pass
