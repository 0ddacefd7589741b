"""GetJob's ETA: estimated from the model's recent completed jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from application.commands import SubmitJob
from domain.jobs import Job

pytestmark = pytest.mark.unit


async def _completed_job_taking(world, job_id: str, seconds: float) -> None:  # type: ignore[no-untyped-def]
    from tests.contracts import job_state

    now = world.clock.now()
    job = Job.submit(job_state(job_id, user_id="u0", model="local", created_at=now))
    job.start(now=now, worker_id="w", lease_expires_at=now + timedelta(minutes=5))
    job.begin_generation(now=now)
    job.begin_upload(now=now + timedelta(seconds=seconds), provider_cost_micros=0)
    job.complete(now=now + timedelta(seconds=seconds), image_ids=("img",), charged_credits=1)
    async with world.uow() as uow:
        await uow.jobs.add(job)
        await uow.commit()


async def test_a_queued_job_gets_an_eta_from_recent_jobs_of_its_model(world) -> None:
    await world.grant()("u1", 10)
    first = await world.submit()(SubmitJob(user_id="u1", prompt="a", model="local", size="64x64", n=1))
    assert (await world.get_job()("u1", first.job.id)).eta_seconds is None  # no history yet
    for i, seconds in enumerate((4.0, 6.0, 100.0)):
        await _completed_job_taking(world, f"job_done_{i}", seconds)
    second = await world.submit()(SubmitJob(user_id="u1", prompt="b", model="local", size="64x64", n=1))
    view = await world.get_job()("u1", second.job.id)
    assert view.queue_position == 2
    assert view.eta_seconds == 6 + 2 * 6 // 2  # median 6 s; two in line over 2 workers
