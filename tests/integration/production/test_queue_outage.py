"""Redis down at submit time: the job and its outbox row commit, the API still answers, and
once a queue works again the relay publishes the message and the job runs."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.tasks.in_process import InProcessTaskQueue
from application.commands import SubmitJob
from domain.jobs import JobStatus
from tests.integration.production.conftest import empty_tables
from tests.integration.production.helpers import production_container

pytestmark = pytest.mark.integration


async def test_a_submit_while_redis_is_down_is_kept_in_the_outbox_and_runs_after_the_relay(
    migrated_postgres: str, tmp_path: Path
) -> None:
    down = production_container(migrated_postgres, tmp_path, redis_url="redis://127.0.0.1:1/0")
    await empty_tables(down.adapters.engine())
    try:
        await down.use_cases.ensure_user()("user_out", starter_credits=10)
        started = time.monotonic()
        result = await down.use_cases.submit_job()(SubmitJob(
            user_id="user_out", prompt="kept", model="local", size="64x64", n=1))
        answered_in = time.monotonic() - started
    finally:
        await down.close()
    assert result.job.status is JobStatus.QUEUED
    assert answered_in < 5

    queue = InProcessTaskQueue(concurrency=2)
    up = production_container(migrated_postgres, tmp_path, queue=queue)
    try:
        queue.bind(up.use_cases.process_job())
        async with up.adapters.uow() as uow:
            now = datetime.now(UTC)  # the failed eager publish released its claim at once
            pending = [m.job_id for m in await uow.outbox.claim_undispatched(10, now=now, lease_until=now)]
        published = await up.use_cases.relay_outbox()(10)
        await queue.drain()
        again = await up.use_cases.relay_outbox()(10)
        view = await up.use_cases.get_job()("user_out", result.job.id)
    finally:
        await up.close()
    assert pending == [result.job.id]
    assert (published, again) == (1, 0)
    assert view.job.status is JobStatus.COMPLETED
    assert len(view.images) == 1
