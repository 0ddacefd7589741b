"""The `QuotaRepository` contract."""

from __future__ import annotations

from domain.accounts import User
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
