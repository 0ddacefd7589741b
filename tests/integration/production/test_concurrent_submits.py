"""200 concurrent submissions from one account on Postgres: the balance check at reservation
admits exactly as many jobs as the credits cover, and the ledger replays to its projection."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from application.commands import SubmitJob
from domain.errors import InsufficientCredits
from tests.integration.production.conftest import empty_tables
from tests.integration.production.helpers import RecordingQueue, production_container, relay_everything

pytestmark = pytest.mark.integration


async def test_two_hundred_concurrent_submits_against_fifty_jobs_of_credit_accept_exactly_fifty(
    migrated_postgres: str, tmp_path: Path
) -> None:
    queue = RecordingQueue()
    container = production_container(migrated_postgres, tmp_path, queue=queue, db_pool_size=20,
                                      db_max_overflow=0)
    await empty_tables(container.adapters.engine())
    cases = container.use_cases
    try:
        await cases.ensure_user()("user_race", starter_credits=0)
        await cases.grant_credits()("user_race", 50)  # `local` 64x64 costs 1 credit per job
        submit = cases.submit_job()

        async def one(index: int) -> str:
            try:
                result = await submit(SubmitJob(user_id="user_race", prompt=f"p{index}",
                                                model="local", size="64x64", n=1))
            except InsufficientCredits:
                return "refused"
            assert result.balance.available >= 0
            return "accepted"

        outcomes = await asyncio.gather(*(one(i) for i in range(200)))
        balance = await cases.get_balance()("user_race")
        report = await cases.audit_ledger()("user_race")
        await relay_everything(container)  # the API's relay sends what the submits committed
    finally:
        await container.close()
    assert outcomes.count("accepted") == 50
    assert outcomes.count("refused") == 150
    assert (balance.available, balance.reserved) == (0, 50)
    assert report.ok, report
    assert len({job for job, _ in queue.items}) == 50
