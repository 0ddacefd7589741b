"""Issue 8 / ADR 0051, 0057: the sweeper's re-send of queued jobs, its return of a lapsed upload
to the provider, and the awaiting-callback poller write their queue message to the outbox in
the unit that changes (or finds) the job. A crash right after that commit (`CommitFaults` on
the real unit of work) sends nothing directly, and the relay still publishes the message.
Both SQL backends; the queue records what it is sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.clock import FakeClock
from adapters.persistence.sqlalchemy.uow import CommitFaults
from application.commands import SubmitJob
from application.use_cases.reconcile_awaiting_jobs import ReconcileAwaitingJobs
from application.use_cases.relay_outbox import RelayOutbox
from domain.jobs import JobStatusChanged
from tests.integration.engine.backends import engine_container
from tests.integration.engine.test_outbox_side_effects import Crash, with_faults

pytestmark = pytest.mark.integration


async def submitted(c: Any, user_id: str) -> str:
    await c.use_cases.ensure_user()(user_id, starter_credits=5)
    job = (await c.use_cases.submit_job()(SubmitJob(
        user_id=user_id, prompt="swept", model="local", size="64x64", n=1))).job
    await c.use_cases.relay_outbox()(100)  # production leaves the submit's to the relay (ADR 0066)
    return job.id


async def park_at_provider(c: Any, job_id: str, *, uploading: bool) -> None:
    """The job as an async provider leaves it: waiting for its callback, or (uploading) taken
    to store the result by a worker whose lease then lapsed."""
    now = datetime.now(UTC)
    async with c.adapters.uow() as uow:
        job = await uow.jobs.get(job_id)
        job.start(now=now, worker_id="w1", lease_expires_at=now + timedelta(seconds=60))
        job.begin_generation(now=now)
        job.await_callback(now=now, provider_job_id=f"pred_{job_id}")
        if uploading:
            job.claim_resume(now=now, worker_id="w2", lease_expires_at=now + timedelta(seconds=60),
                             step="fetching")
            job.begin_upload(now=now, provider_cost_micros=0,
                             lease_expires_at=now - timedelta(seconds=1))
        await uow.jobs.save(job)
        await uow.commit()


def crash_after_next_commit(c: Any) -> None:
    async def crash(events: Sequence[JobStatusChanged]) -> None:
        raise Crash("killed after COMMIT")

    with_faults(c, CommitFaults(after_commit=crash))


async def relay_later(c: Any) -> None:
    """Any relay, once the unit's own claim on its message has lapsed."""
    later = FakeClock(datetime.now(UTC) + timedelta(minutes=5))
    await RelayOutbox(uow=c.adapters.uow, queue=c.adapters.queue(), clock=later)(100)


async def test_a_resend_crashed_after_its_commit_is_still_sent_by_the_relay(
        backend: str, tmp_path: Path) -> None:
    async with engine_container(backend, tmp_path) as c:
        job_id = await submitted(c, "user_resend")
        queue = c.adapters.queue()
        queue.items.clear()
        crash_after_next_commit(c)
        await c.use_cases.recover_jobs()(resend_all=True)  # the pass logs the crash and goes on
        c.adapters.uow.reset_override()
        sent_directly = list(queue.items)
        await relay_later(c)
        async with c.adapters.uow() as uow:
            dispatched = (await uow.jobs.get(job_id)).state.dispatched_at
    assert sent_directly == []
    assert [job for job, _ in queue.items] == [job_id]
    assert dispatched is not None  # the mark and the message committed together


async def test_a_return_to_the_provider_crashed_after_its_commit_is_still_sent_by_the_relay(
        backend: str, tmp_path: Path) -> None:
    async with engine_container(backend, tmp_path) as c:
        job_id = await submitted(c, "user_return")
        await park_at_provider(c, job_id, uploading=True)
        queue = c.adapters.queue()
        queue.items.clear()
        crash_after_next_commit(c)
        await c.use_cases.recover_jobs()()
        c.adapters.uow.reset_override()
        sent_directly = list(queue.items)
        await relay_later(c)
        state = (await c.use_cases.get_job()("user_return", job_id)).job
    assert state.status.value == "awaiting_callback"
    assert sent_directly == []
    assert [job for job, _ in queue.items] == [job_id]


async def test_a_poll_crashed_after_its_commit_is_still_sent_by_the_relay(
        backend: str, tmp_path: Path) -> None:
    async with engine_container(backend, tmp_path) as c:
        job_id = await submitted(c, "user_poll")
        await park_at_provider(c, job_id, uploading=False)
        queue = c.adapters.queue()
        queue.items.clear()
        poll = ReconcileAwaitingJobs(uow=c.adapters.uow, queue=queue,
                                     clock=FakeClock(datetime.now(UTC) + timedelta(seconds=1)), after_s=0)
        crash_after_next_commit(c)
        with pytest.raises(Crash):
            await poll()
        c.adapters.uow.reset_override()
        sent_directly = list(queue.items)
        await relay_later(c)
        await relay_later(c)  # sent once
    assert sent_directly == []
    assert [job for job, _ in queue.items] == [job_id]
