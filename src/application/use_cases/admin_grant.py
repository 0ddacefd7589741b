"""AdminGrant: grant credits to an existing user (404 for an unknown one, unlike the CLI's grant)."""

from __future__ import annotations

from application.errors import NotFound
from application.ports import UnitOfWorkFactory
from application.principal import Principal, require_admin
from application.use_cases.credits import GrantCredits
from domain.credits import Balance


class AdminGrant:
    def __init__(self, *, uow: UnitOfWorkFactory, grant: GrantCredits) -> None:
        self._uow, self._grant = uow, grant

    async def __call__(self, principal: Principal, user_id: str, amount: int) -> Balance:
        require_admin(principal)
        async with self._uow() as uow:
            if await uow.users.get(user_id) is None:
                raise NotFound("user", user_id)
        return await self._grant(user_id, amount, reason=f"admin grant by {principal.user_id}")
