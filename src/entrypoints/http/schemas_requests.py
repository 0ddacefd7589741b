"""Bodies of the batch, ledger-history, stats and admin endpoints (camelCase, as `schemas.py`)."""

from __future__ import annotations

from datetime import datetime

from entrypoints.http.bounded import Credits, Id, Models, Prompt, Prompts, Seed, Short
from entrypoints.http.schemas import Api, BalanceOut, Progress


class BatchCreate(Api):
    """Either `prompts` (with an optional `model`) or `prompt` with `models`."""

    prompts: Prompts | None = None
    model: Short | None = None
    prompt: Prompt | None = None
    models: Models | None = None
    size: Short = "1024x1024"
    n: int = 1
    seed: Seed | None = None


class BatchChild(Api):
    id: str
    model: str
    prompt: str
    status: str
    progress: Progress
    estimated_credits: int
    charged_credits: int | None
    retry_of_job_id: str | None = None


class BatchOut(Api):
    id: str
    kind: str
    status: str
    progress_percent: int
    counts: dict[str, int]
    total: int
    estimated_credits: int
    jobs: list[BatchChild]
    created_at: datetime
    balance: BalanceOut | None = None


class LedgerEventOut(Api):
    version: int
    type: str
    amount: int
    occurred_at: datetime
    job_id: str | None = None
    released: int | None = None
    reason: str | None = None


class LedgerEventPage(Api):
    items: list[LedgerEventOut]
    next_after_version: int | None


class StatsRow(Api):
    model: str
    day: str | None
    completed: int
    failed: int
    cancelled: int
    success_rate: float | None  # completed / (completed + failed); None without finished jobs
    p50_ms: int | None
    p95_ms: int | None
    credits_spent: int
    provider_cost_micros: int


class StatsOut(Api):
    scope: str
    since: datetime
    by_model: list[StatsRow]
    by_day: list[StatsRow]


class GrantIn(Api):
    user_id: Id
    amount: Credits


class PlanIn(Api):
    plan: Short


class UserOut(Api):
    id: str
    plan: str
    is_admin: bool


class AccountBalanceOut(Api):
    user_id: str
    available: int
    reserved: int
    lifetime_spent: int


class BalancesPage(Api):
    items: list[AccountBalanceOut]
    next_cursor: str | None
