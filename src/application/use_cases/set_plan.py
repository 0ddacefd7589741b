"""SetPlan (admin): move a user to another plan, which changes its storage quota."""

from __future__ import annotations

import msgspec

from application.errors import NotFound
from application.ports import UnitOfWorkFactory
from application.principal import Principal, require_admin
from domain.accounts import User
from domain.errors import InvalidRequest
from domain.quota import Plan


class SetPlan:
    def __init__(self, *, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, principal: Principal, user_id: str, plan: str) -> User:
        """Raise Forbidden for a non-admin, InvalidRequest(plan) or NotFound(user)."""
        require_admin(principal)
        try:
            new_plan = Plan(plan)
        except ValueError:
            raise InvalidRequest("plan", f"must be one of {', '.join(p.value for p in Plan)}") from None
        async with self._uow() as uow:
            user = await uow.users.get(user_id)
            if user is None:
                raise NotFound("user", user_id)
            user = msgspec.structs.replace(user, plan=new_plan)
            await uow.users.set_plan(user)
            await uow.commit()
        return user
