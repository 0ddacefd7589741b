"""SqlAlchemyStatsReader on SQLite and Postgres: aggregates by model and UTC day, percentiles,
scoping to a user, and the admin balance listing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.persistence.sqlalchemy import SqlAlchemyUnitOfWorkFactory, create_engine, create_schema
from adapters.persistence.sqlalchemy.stats import SqlAlchemyStatsReader
from adapters.persistence.sqlalchemy.tables import metadata
from domain.failures import ErrorClass
from domain.jobs import Job, JobState

pytestmark = pytest.mark.integration

DAY1 = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
DAY2 = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_database").sqlalchemy_url)
    return f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    try:
        await create_schema(engine)
        async with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                if table.name not in ("alembic_version",):
                    await conn.execute(table.delete())
        yield engine
    finally:
        await engine.dispose()


async def _job(engine: AsyncEngine, job_id: str, user: str, model: str, at: datetime, *,
               seconds: float | None = None, fail: bool = False) -> None:
    job = Job.submit(JobState(id=job_id, user_id=user, prompt="p", model=model, provider="local",
                              width=64, height=64, n=1, created_at=at, updated_at=at,
                              estimated_credits=2))
    job.start(now=at, worker_id="w", lease_expires_at=at + timedelta(minutes=5))
    job.begin_generation(now=at)
    if fail:
        job.fail(now=at + timedelta(seconds=1), error_class=ErrorClass.TIMEOUT, message="slow",
                 charged_credits=0, provider_cost_micros=500)
    else:
        done = at + timedelta(seconds=seconds or 0)
        job.begin_upload(now=done, provider_cost_micros=1500)
        job.complete(now=done, image_ids=(f"img_{job_id}",), charged_credits=2)
    async with SqlAlchemyUnitOfWorkFactory(engine)() as uow:
        await uow.jobs.add(job)
        await uow.commit()


async def test_stats_group_by_model_and_utc_day_with_percentiles(engine: AsyncEngine) -> None:
    for i, seconds in enumerate([1.0, 2.0, 3.0, 10.0]):
        await _job(engine, f"job_a{i}", "alice", "local", DAY1, seconds=seconds)
    await _job(engine, "job_f", "alice", "local", DAY2, fail=True)
    await _job(engine, "job_o", "alice", "other", DAY2, seconds=4.0)
    await _job(engine, "job_b", "bob", "local", DAY2, seconds=99.0)
    reader = SqlAlchemyStatsReader(engine)
    rows = await reader.job_stats("alice", since=DAY1 - timedelta(days=1), sample_limit=100)
    by_key = {(r.model, r.day): r for r in rows}
    local = by_key[("local", None)]
    assert (local.completed, local.failed, local.credits_spent) == (4, 1, 8)
    assert local.provider_cost_micros == 4 * 1500 + 500
    assert (local.p50_ms, local.p95_ms) == (2000, 10000)
    assert by_key[("local", "2026-03-01")].completed == 4
    assert by_key[("local", "2026-03-02")].failed == 1 and by_key[("local", "2026-03-02")].p50_ms is None
    assert by_key[("other", None)].p50_ms == 4000
    everyone = await reader.job_stats(None, since=DAY1 - timedelta(days=1), sample_limit=100)
    assert {(r.model, r.day): r for r in everyone}[("local", None)].completed == 5
    later = await reader.job_stats("alice", since=DAY2, sample_limit=100)
    assert {r.model for r in later} == {"local", "other"} and all(r.completed + r.failed <= 1 for r in later)


async def test_percentiles_use_only_the_newest_sample_limit_jobs(engine: AsyncEngine) -> None:
    for i in range(5):
        await _job(engine, f"job_{i}", "alice", "local", DAY1 + timedelta(minutes=i), seconds=float(i + 1))
    [row, *_] = await SqlAlchemyStatsReader(engine).job_stats("alice", since=DAY1, sample_limit=2)
    assert row.completed == 5 and row.p50_ms == 4000 and row.p95_ms == 5000
