"""EnsureUser: create a user with starter credits the first time it is named (local setups)."""

from __future__ import annotations

from application.conflicts import retry_on_conflict
from application.ports import Clock, UnitOfWorkFactory
from application.use_cases.api_keys import check_user_id, create_user
from domain.quota import Plan


class EnsureUser:
    def __init__(self, *, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, user_id: str, *, starter_credits: int, plan: Plan = Plan.FREE,
                       admin: bool = False) -> bool:
        """Return True when the user was created (and granted `starter_credits`) now.

        Raises InvalidRequest on the `user` field for a malformed user id."""
        check_user_id(user_id)

        async def attempt() -> bool:
            now = self._clock.now()
            async with self._uow() as uow:
                await uow.lock_account(user_id)
                if await uow.users.get(user_id) is not None:
                    return False
                await create_user(uow, user_id, now=now, starter_credits=starter_credits,
                                  plan=plan, admin=admin)
                await uow.commit()
            return True

        return await retry_on_conflict(attempt)
