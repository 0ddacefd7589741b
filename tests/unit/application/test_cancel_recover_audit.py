"""CancelJob, RecoverJobs and AuditLedger."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from application.commands import SubmitJob
from application.errors import NotFound
from domain.errors import InvalidTransition
from domain.jobs import JobStatus
from domain.ledger_events import decode_event, encode_event

pytestmark = pytest.mark.unit


async def submit(world, user: str = "u1") -> str:
    return (await world.submit()(SubmitJob(user_id=user, prompt="p", model="local", size="32x32"))).job.id


async def test_cancelling_a_queued_job_releases_its_credits(world) -> None:
    await world.grant()("u1", 5)
    job_id = await submit(world)
    state = await world.cancel()("u1", job_id)
    assert state.status is JobStatus.CANCELLED
    assert (await world.balance()("u1")).available == 5
    await world.run_queue()  # the queued message finds nothing to do
    assert (await world.get_job()("u1", job_id)).job.status is JobStatus.CANCELLED


async def test_cancelling_a_finished_job_is_refused_and_changes_nothing(world) -> None:
    await world.grant()("u1", 5)
    job_id = await submit(world)
    await world.run_queue()
    with pytest.raises(InvalidTransition):
        await world.cancel()("u1", job_id)
    balance = await world.balance()("u1")
    assert (balance.available, balance.lifetime_spent) == (4, 1)


async def test_another_users_job_is_not_found(world) -> None:
    await world.grant()("u1", 5)
    job_id = await submit(world)
    with pytest.raises(NotFound):
        await world.get_job()("u2", job_id)
    with pytest.raises(NotFound):
        await world.cancel()("u2", job_id)


async def test_a_job_whose_worker_vanished_is_requeued_and_completes_once(world) -> None:
    await world.grant()("u1", 5)
    job_id = await submit(world)
    world.queue.items.clear()
    async with world.uow() as uow:  # a worker claims the job, then dies
        job = await uow.jobs.get(job_id)
        job.start(now=world.clock.now(), worker_id="dead", lease_expires_at=world.clock.now() + timedelta(seconds=60))
        await uow.jobs.save(job)
        await uow.commit()
    assert await world.recover()() == 0
    world.clock.advance(61)
    assert await world.recover()() == 1
    await world.run_queue()
    job = (await world.get_job()("u1", job_id)).job
    assert (job.status, job.attempts) == (JobStatus.COMPLETED, 2)
    assert (await world.balance()("u1")).lifetime_spent == 1


async def test_audit_passes_on_a_busy_ledger_and_fails_after_tampering(world) -> None:
    await world.grant()("u1", 20)
    for _ in range(3):
        await submit(world)
    await world.run_queue()
    assert (await world.audit()()).ok
    stored = world.db.ledger_events["u1"]
    event = decode_event(stored[1])
    stored[1] = encode_event(msgspec.structs.replace(event, amount=999))  # edited by hand
    report = await world.audit()()
    assert not report.ok
    assert any("hash" in p for p in report.accounts[0].problems)
