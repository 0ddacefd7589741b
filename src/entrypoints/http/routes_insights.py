"""/v1/credits/events (the caller's ledger history) and /v1/stats (job statistics)."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from application.ports import ModelStats
from application.principal import Principal
from application.use_cases.job_stats import JobStats
from application.use_cases.ledger_history import LedgerHistory
from domain.ledger_events import AnyLedgerEvent
from entrypoints.http.schemas_requests import LedgerEventOut, LedgerEventPage, StatsOut, StatsRow


def _event_out(event: AnyLedgerEvent) -> LedgerEventOut:
    return LedgerEventOut(
        version=event.version, type=str(type(event).__struct_config__.tag), amount=event.amount,
        occurred_at=event.occurred_at, job_id=getattr(event, "job_id", None),
        released=getattr(event, "released", None), reason=getattr(event, "reason", None) or None)


@get("/v1/credits/events", tags=["credits"], summary="The caller's ledger history, oldest first")
async def credit_events(
    principal: NamedDependency[Principal], ledger_history: NamedDependency[LedgerHistory],
    after_version: Annotated[int, QueryParameter(name="afterVersion",
                                                 description="nextAfterVersion of the page before")] = 0,
    limit: Annotated[int, QueryParameter(description="page size, 1-200")] = 50,
) -> LedgerEventPage:
    page = await ledger_history(principal.user_id, after_version=after_version, limit=limit)
    return LedgerEventPage(items=[_event_out(e) for e in page.items],
                           next_after_version=page.next_after_version)


def _stats_row(row: ModelStats) -> StatsRow:
    finished = row.completed + row.failed
    return StatsRow(model=row.model, day=row.day, completed=row.completed, failed=row.failed,
                    cancelled=row.cancelled,
                    success_rate=round(row.completed / finished, 4) if finished else None,
                    p50_ms=row.p50_ms, p95_ms=row.p95_ms, credits_spent=row.credits_spent,
                    provider_cost_micros=row.provider_cost_micros)


@get("/v1/stats", tags=["stats"], summary="Success rate, processing times, credits and cost",
     description="By model (day null) and by model and day; `all=true` needs an admin key.")
async def read_stats(
    principal: NamedDependency[Principal], job_stats: NamedDependency[JobStats],
    days: Annotated[int, QueryParameter(description="window in days, 1-366")] = 30,
    all_users: Annotated[bool, QueryParameter(name="all", description="every user (admin)")] = False,
) -> StatsOut:
    report = await job_stats(principal, days=days, everyone=all_users)
    rows = [_stats_row(r) for r in report.rows]
    return StatsOut(scope=report.scope, since=report.since,
                    by_model=[r for r in rows if r.day is None], by_day=[r for r in rows if r.day])
