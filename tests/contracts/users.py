"""The `UserRepository` contract: users, plans and API keys by hash."""

from __future__ import annotations

import pytest

from application.errors import ConcurrencyConflict, NotFound
from domain.accounts import ApiKey, User, hash_api_key
from domain.quota import Plan
from tests.contracts import PersistenceContract, at


def api_key(key_id: str, secret: str, *, user_id: str = "user_1", **extra: object) -> ApiKey:
    return ApiKey(id=key_id, user_id=user_id, key_hash=hash_api_key(secret), prefix=secret[:8],
                  created_at=at(0), **extra)  # type: ignore[arg-type]


class UserRepositoryContract(PersistenceContract):
    async def _add_user(self, user: User) -> None:
        async with self.make_uow() as uow:
            await uow.users.add(user)
            await uow.commit()

    async def test_a_user_comes_back_as_added(self) -> None:
        user = User(id="user_1", plan=Plan.PRO, created_at=at(0), is_admin=True)
        await self._add_user(user)
        async with self.make_uow() as uow:
            assert await uow.users.get("user_1") == user
            assert await uow.users.get("user_missing") is None

    async def test_adding_a_user_id_twice_is_a_conflict(self) -> None:
        await self._add_user(User(id="user_1", plan=Plan.FREE, created_at=at(0)))
        async with self.make_uow() as uow:
            with pytest.raises(ConcurrencyConflict):
                await uow.users.add(User(id="user_1", plan=Plan.PRO, created_at=at(1)))

    async def test_set_plan_changes_only_the_plan(self) -> None:
        await self._add_user(User(id="user_1", plan=Plan.FREE, created_at=at(0)))
        async with self.make_uow() as uow:
            await uow.users.set_plan(User(id="user_1", plan=Plan.PRO, created_at=at(99)))
            await uow.commit()
        async with self.make_uow() as uow:
            assert await uow.users.get("user_1") == User(id="user_1", plan=Plan.PRO,
                                                         created_at=at(0))

    async def test_set_plan_of_an_unknown_user_is_not_found(self) -> None:
        async with self.make_uow() as uow:
            with pytest.raises(NotFound):
                await uow.users.set_plan(User(id="user_x", plan=Plan.PRO, created_at=at(0)))

    async def test_a_key_is_found_by_the_hash_of_its_secret_only(self) -> None:
        await self._add_user(User(id="user_1", plan=Plan.FREE, created_at=at(0)))
        plain = api_key("key_1", "sk_live_secret_one")
        scoped = api_key("key_2", "sk_live_secret_two", project_id="proj_1", revoked_at=at(5))
        async with self.make_uow() as uow:
            await uow.users.add_key(plain)
            await uow.users.add_key(scoped)
            await uow.commit()
        async with self.make_uow() as uow:
            assert await uow.users.key_by_hash(hash_api_key("sk_live_secret_one")) == plain
            assert await uow.users.key_by_hash(hash_api_key("sk_live_secret_two")) == scoped
            assert await uow.users.key_by_hash(hash_api_key("sk_live_unknown")) is None

    async def test_a_key_hash_is_unique(self) -> None:
        await self._add_user(User(id="user_1", plan=Plan.FREE, created_at=at(0)))
        async with self.make_uow() as uow:
            await uow.users.add_key(api_key("key_1", "sk_live_same"))
            await uow.commit()
        async with self.make_uow() as uow:
            with pytest.raises(ConcurrencyConflict):
                await uow.users.add_key(api_key("key_2", "sk_live_same"))

    async def test_a_key_for_an_unknown_user_is_not_found(self) -> None:
        async with self.make_uow() as uow:
            with pytest.raises(NotFound):
                await uow.users.add_key(api_key("key_1", "sk_live_orphan", user_id="user_x"))
