"""On Postgres, two workers handed the same job at once (a redelivery racing the reaper's
re-dispatch) generate, capture and store it once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.persistence.sqlalchemy.tables import images, ledger_events
from application.commands import SubmitJob
from domain.jobs import JobStatus
from tests.integration.production.conftest import empty_tables
from tests.integration.production.helpers import RecordingQueue, production_container

pytestmark = pytest.mark.integration


async def test_two_workers_racing_for_one_job_capture_once_and_store_one_image(
    migrated_postgres: str, tmp_path: Path
) -> None:
    workers = [production_container(migrated_postgres, tmp_path, queue=RecordingQueue(),
                                    worker_id=f"w{i}", local_latency_s=0.2) for i in (1, 2)]
    engine = workers[0].adapters.engine()
    await empty_tables(engine)
    try:
        cases = workers[0].use_cases
        await cases.ensure_user()("user_twice", starter_credits=10)
        job_id = (await cases.submit_job()(SubmitJob(
            user_id="user_twice", prompt="once", model="local", size="64x64", n=1))).job.id
        results = await asyncio.gather(*(w.use_cases.process_job()(job_id) for w in workers))
        view = await cases.get_job()("user_twice", job_id)
        balance = await cases.get_balance()("user_twice")
        async with engine.connect() as conn:
            captures = (await conn.execute(select(func.count()).select_from(ledger_events).where(
                ledger_events.c.job_id == job_id, ledger_events.c.type == "reservation_captured"))).scalar_one()
            image_rows = (await conn.execute(select(func.count()).select_from(images).where(
                images.c.job_id == job_id))).scalar_one()
    finally:
        for worker in workers:
            await worker.close()
    assert sorted(r is None for r in results) == [False, True]  # one ran, one skipped
    assert view.job.status is JobStatus.COMPLETED and view.job.attempts == 1
    assert (captures, image_rows) == (1, 1)
    assert (balance.available, balance.reserved) == (9, 0)
    assert len(list((tmp_path / "objects").rglob("*.png"))) == 1
