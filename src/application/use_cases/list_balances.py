"""ListBalances (admin): every account's balance projection, a page at a time by account id."""

from __future__ import annotations

import msgspec

from application.ports import AccountBalance, BalanceLister
from application.principal import Principal, require_admin
from domain.errors import InvalidRequest

MAX_PAGE = 200


class BalancePage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[AccountBalance]
    next_cursor: str | None


class ListBalances:
    def __init__(self, *, lister: BalanceLister) -> None:
        self._lister = lister

    async def __call__(self, principal: Principal, *, cursor: str | None, limit: int = 50) -> BalancePage:
        require_admin(principal)
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest("limit", f"must be between 1 and {MAX_PAGE}")
        rows = await self._lister.balances(after=cursor, limit=limit + 1)
        items = rows[:limit]
        return BalancePage(items=items, next_cursor=items[-1].account_id if len(rows) > limit else None)
