"""Issue 8, case 12: retrying the same failed job twice returns the first retry (one new job,
one reservation), also when the two retries race; over HTTP and through the use case, on
SQLite and Postgres."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.persistence.sqlalchemy.tables import jobs, ledger_events
from application.commands import SubmitJob
from entrypoints.http.request_features import features_of
from tests.integration.engine.backends import engine_container
from tests.integration.http.request_helpers import api_with, fail_job

pytestmark = pytest.mark.integration


async def test_two_racing_retries_of_one_job_make_one_job_and_one_reservation(
        backend: str, tmp_path: Path) -> None:
    async with engine_container(backend, tmp_path) as c:
        cases = c.use_cases
        await cases.ensure_user()("user_r", starter_credits=10)
        job_id = (await cases.submit_job()(SubmitJob(
            user_id="user_r", prompt="again", model="local", size="64x64", n=1))).job.id
        await cases.cancel_job()("user_r", job_id)
        racing = await asyncio.gather(*(features_of(c).retry_job()("user_r", job_id) for _ in range(4)))
        later = await features_of(c).retry_job()("user_r", job_id)
        balance = await cases.get_balance()("user_r")
        async with c.adapters.engine().connect() as conn:
            retries = (await conn.execute(select(func.count()).select_from(jobs).where(
                jobs.c.retry_of_job_id == job_id))).scalar_one()
            reservations = (await conn.execute(select(func.count()).select_from(ledger_events).where(
                ledger_events.c.type == "credits_reserved"))).scalar_one()
    assert len({r.job.id for r in [*racing, later]}) == 1
    assert sum(r.created for r in racing) == 1 and not later.created
    assert (retries, reservations) == (1, 2)  # the original's and the one retry's
    assert (balance.available, balance.reserved) == (9, 1)


async def test_retrying_a_failed_job_twice_over_http_answers_the_first_retry(tmp_path: Path) -> None:
    async with api_with(tmp_path) as api:
        headers = await api.key_for("alice", credits=10)
        job = (await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"},
                                     headers=headers)).json()
        await fail_job(api, job["id"])
        first = await api.client.post(f"/v1/jobs/{job['id']}/retry", headers=headers)
        second = await api.client.post(f"/v1/jobs/{job['id']}/retry", headers=headers)
        racing = await asyncio.gather(*(api.client.post(f"/v1/jobs/{job['id']}/retry", headers=headers)
                                        for _ in range(3)))
        events = (await api.client.get("/v1/credits/events", headers=headers)).json()["items"]
    assert first.status_code == second.status_code == 201
    assert {r.json()["id"] for r in (second, *racing)} == {first.json()["id"]}
    assert second.json()["balance"] == {"available": 9, "reserved": 1, "lifetimeSpent": 0}
    assert [e["type"] for e in events].count("credits_reserved") == 2
