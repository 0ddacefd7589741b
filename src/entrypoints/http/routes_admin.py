"""/v1/admin: credit grants, plan changes and balances, for admin API keys only (403 otherwise)."""

from __future__ import annotations

from typing import Annotated

from litestar import get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from application.principal import Principal
from application.use_cases.admin_grant import AdminGrant
from application.use_cases.list_balances import ListBalances
from application.use_cases.set_plan import SetPlan
from entrypoints.http.schemas import BalanceOut
from entrypoints.http.schemas_requests import AccountBalanceOut, BalancesPage, GrantIn, PlanIn, UserOut
from entrypoints.http.views import balance_out


@post("/v1/admin/credits/grant", status_code=200, tags=["admin"], summary="Grant credits to a user")
async def admin_grant(data: JSONBody[GrantIn], principal: NamedDependency[Principal],
                      admin_grant_credits: NamedDependency[AdminGrant]) -> BalanceOut:
    return balance_out(await admin_grant_credits(principal, data.user_id, data.amount))


@put("/v1/admin/users/{user_id:str}/plan", tags=["admin"], summary="Change a user's plan")
async def admin_set_plan(user_id: FromPath[str], data: JSONBody[PlanIn], principal: NamedDependency[Principal],
                         set_plan: NamedDependency[SetPlan]) -> UserOut:
    user = await set_plan(principal, user_id, data.plan)
    return UserOut(id=user.id, plan=user.plan.value, is_admin=user.is_admin)


@get("/v1/admin/balances", tags=["admin"], summary="Every account's balance, by user id")
async def admin_balances(
    principal: NamedDependency[Principal], list_balances: NamedDependency[ListBalances],
    cursor: Annotated[str | None, QueryParameter(description="nextCursor of the page before")] = None,
    limit: Annotated[int, QueryParameter(description="page size, 1-200")] = 50,
) -> BalancesPage:
    page = await list_balances(principal, cursor=cursor, limit=limit)
    return BalancesPage(items=[AccountBalanceOut(user_id=b.account_id, available=b.available,
                                                 reserved=b.reserved, lifetime_spent=b.lifetime_spent)
                               for b in page.items], next_cursor=page.next_cursor)
