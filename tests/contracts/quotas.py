"""The `QuotaRepository` contract."""

from __future__ import annotations

import pytest

from domain.accounts import User
from domain.errors import StorageQuotaExceeded
from domain.quota import GIB, Plan
from tests.contracts import PersistenceContract, at


class QuotaRepositoryContract(PersistenceContract):
    async def test_an_unknown_user_has_the_free_plan_and_no_usage(self) -> None:
        async with self.make_uow() as uow:
            quota = await uow.quotas.get("user_nobody")
        assert quota.plan is Plan.FREE
        assert quota.used_bytes == 0

    async def test_usage_adds_up_across_units_under_the_users_plan(self) -> None:
        async with self.make_uow() as uow:
            await uow.users.add(User(id="user_1", plan=Plan.PRO, created_at=at(0)))
            await uow.quotas.add_usage("user_1", 3 * GIB)
            await uow.commit()
        async with self.make_uow() as uow:
            await uow.quotas.add_usage("user_1", 1000)
            await uow.quotas.add_usage("user_1", -500)
            assert (await uow.quotas.get("user_1")).used_bytes == 3 * GIB + 500
            await uow.commit()
        async with self.make_uow() as uow:
            quota = await uow.quotas.get("user_1")
        assert quota.plan is Plan.PRO
        assert quota.used_bytes == 3 * GIB + 500
        assert quota.limit_bytes == 100 * GIB

    async def test_uncommitted_usage_is_not_counted(self) -> None:
        async with self.make_uow() as uow:
            await uow.quotas.add_usage("user_1", 1000)
        async with self.make_uow() as uow:
            assert (await uow.quotas.get("user_1")).used_bytes == 0

    async def test_a_plan_change_changes_the_limit(self) -> None:
        user = User(id="user_1", plan=Plan.FREE, created_at=at(0))
        async with self.make_uow() as uow:
            await uow.users.add(user)
            await uow.commit()
        async with self.make_uow() as uow:
            await uow.users.set_plan(User(id="user_1", plan=Plan.ENTERPRISE, created_at=at(0)))
            await uow.commit()
        async with self.make_uow() as uow:
            assert (await uow.quotas.get("user_1")).plan is Plan.ENTERPRISE

    async def test_usage_past_the_limit_is_refused_in_the_write_and_counts_nothing(self) -> None:
        async with self.make_uow() as uow:
            await uow.quotas.add_usage("user_1", GIB - 100)
            await uow.commit()
        with pytest.raises(StorageQuotaExceeded):
            async with self.make_uow() as uow:
                await uow.quotas.add_usage("user_1", 101)
        async with self.make_uow() as uow:
            await uow.quotas.add_usage("user_1", 100)  # exactly full still fits
            await uow.commit()
        async with self.make_uow() as uow:
            assert (await uow.quotas.get("user_1")).used_bytes == GIB

    async def test_bytes_counted_by_one_unit_leave_no_room_for_the_next(self) -> None:
        async with self.make_uow() as uow:
            await uow.quotas.add_usage("user_1", GIB - 100)
            await uow.commit()
        first = self.make_uow()
        async with first:
            await first.quotas.add_usage("user_1", 60)
            await first.commit()
        with pytest.raises(StorageQuotaExceeded):
            async with self.make_uow() as uow:
                await uow.quotas.add_usage("user_1", 60)
                await uow.commit()
        async with self.make_uow() as uow:
            assert (await uow.quotas.get("user_1")).used_bytes == GIB - 40
