"""RenewLease and LeaseKeeper: a worker keeps its lease while it works, and only its own."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from adapters.clock import FakeClock, SystemClock
from adapters.events.in_process import InProcessJobEvents
from adapters.memory import InMemoryDatabase, InMemoryUnitOfWorkFactory
from application.use_cases.renew_lease import LeaseKeeper, RenewLease
from application.use_cases.settle_failure import FailOrRetry
from domain.failures import ErrorClass, JobFailure, RefundPolicy
from domain.jobs import Attempt, FailureStage, JobStatus
from domain.retry import RetryPolicy
from tests.contracts import queued_job
from tests.unit.application.conftest import RecordingQueue

pytestmark = pytest.mark.unit


async def leased_job(uow: InMemoryUnitOfWorkFactory, clock: SystemClock | FakeClock, lease_s: float) -> None:
    job = queued_job("job_1")
    now = clock.now()
    job.start(now=now, worker_id="w1", lease_expires_at=now + timedelta(seconds=lease_s))
    job.begin_generation(now=now)
    async with uow() as unit:
        await unit.jobs.add(job)
        await unit.commit()


async def lease_of(uow: InMemoryUnitOfWorkFactory):  # type: ignore[no-untyped-def]
    async with uow() as unit:
        return (await unit.jobs.get("job_1")).state.lease_expires_at  # type: ignore[union-attr]


async def test_the_leaseholder_extends_its_lease_and_another_worker_cannot() -> None:
    uow, clock = InMemoryUnitOfWorkFactory(InMemoryDatabase()), SystemClock()
    await leased_job(uow, clock, lease_s=1)
    before = await lease_of(uow)
    assert await RenewLease(uow=uow, clock=clock, worker_id="w2", lease_s=60)("job_1") is False
    assert await lease_of(uow) == before
    assert await RenewLease(uow=uow, clock=clock, worker_id="w1", lease_s=60)("job_1") is True
    assert (await lease_of(uow) - before).total_seconds() > 50
    assert await RenewLease(uow=uow, clock=clock, worker_id="w1", lease_s=60)("job_missing") is False


async def test_a_held_lease_keeps_moving_forward_while_the_work_runs_and_stops_after() -> None:
    uow, clock = InMemoryUnitOfWorkFactory(InMemoryDatabase()), SystemClock()
    lease_s = 0.06
    await leased_job(uow, clock, lease_s=lease_s)
    keeper = LeaseKeeper(RenewLease(uow=uow, clock=clock, worker_id="w1", lease_s=lease_s), clock, lease_s)
    first = await lease_of(uow)
    async with keeper.hold("job_1"):
        await asyncio.sleep(0.3)  # five lease lengths of "provider call"
        assert await lease_of(uow) > clock.now()  # never lapsed while held
    after = await lease_of(uow)
    await asyncio.sleep(0.1)
    assert after > first
    assert await lease_of(uow) == after  # the renewing task is gone


async def test_the_reaper_does_not_requeue_a_job_whose_lease_was_renewed_after_it_looked() -> None:
    uow, clock, queue = InMemoryUnitOfWorkFactory(InMemoryDatabase()), FakeClock(), RecordingQueue()
    await leased_job(uow, clock, lease_s=10)
    fail = FailOrRetry(uow=uow, queue=queue, clock=clock, publisher=InProcessJobEvents(),
                       retry_policy=RetryPolicy(), refund_policy=RefundPolicy())
    lost = JobFailure(ErrorClass.TIMEOUT, "worker w1 stopped renewing its lease")
    clock.advance(11)  # the reaper saw a lapsed lease ...
    await RenewLease(uow=uow, clock=clock, worker_id="w1", lease_s=10)("job_1")  # ... w1 renewed
    assert await fail("job_1", lost, FailureStage.GENERATING, lapsed=Attempt(1, "w1")) is None
    clock.advance(11)  # now it really lapsed
    assert await fail("job_1", lost, FailureStage.GENERATING, lapsed=Attempt(1, "w1")) is not None
    async with uow() as unit:
        job = await unit.jobs.get("job_1")
    assert job is not None and job.status is JobStatus.QUEUED
    assert [job_id for job_id, _ in queue.items] == ["job_1"]
