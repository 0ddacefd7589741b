"""Fenced attempts and deadlines (issue 8, items 1-3, 6-10 and the reaper part of 17) on the real
SQLAlchemy adapters over SQLite, with faults through the unit of work's commit hooks, a
storage wrapper and a provider whose calls the test answers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import msgspec
import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from adapters.clock import SystemClock
from adapters.persistence.sqlalchemy import create_engine, create_schema
from adapters.persistence.sqlalchemy.uow import CommitFaults, SqlAlchemyUnitOfWorkFactory
from application.errors import ServiceUnavailable
from application.use_cases.renew_lease import LeaseKeeper, RenewLease
from domain.errors import StaleAttempt
from domain.failures import ErrorClass, JobFailure
from domain.jobs import Attempt, Job, JobStatus, JobStatusChanged
from tests.integration.engine.harness import LEASE_S, Engine, sqlite_engine

pytestmark = pytest.mark.integration

S = JobStatus


@pytest.fixture
async def eng(tmp_path: Path) -> AsyncIterator[Engine]:
    engine = await sqlite_engine(tmp_path)
    try:
        yield Engine(engine=engine, tmp=tmp_path)
    finally:
        await engine.dispose()


async def lapse_first_attempt(eng: Engine, job_id: str) -> asyncio.Task[object]:
    """Worker wA claims the job and hangs in the provider until its lease lapses; the sweeper
    requeues it (one more try of an unknown outcome); return wA's task."""
    a = asyncio.create_task(eng.worker("wA")(job_id))
    await eng.gated.wait_started(1)
    eng.clock.advance(LEASE_S + 1)
    await eng.sweeper()()
    assert (await eng.job(job_id)).status is S.QUEUED
    eng.clock.advance(10)  # past the retry's backoff
    return a


# -- 1. fencing ---------------------------------------------------------------------------------
async def test_a_stale_attempt_changes_nothing_and_the_live_attempt_completes(eng: Engine) -> None:
    await eng.grant("u1", 10)
    job_id = await eng.submit("u1")
    a = await lapse_first_attempt(eng, job_id)
    b = asyncio.create_task(eng.worker("wB")(job_id))
    await eng.gated.wait_started(2)

    eng.gated.release(0)  # the stale attempt's image arrives while attempt 2 generates
    await a
    job = await eng.job(job_id)
    assert (job.status, job.attempts, job.worker_id) == (S.GENERATING, 2, "wB")
    assert eng.storage.puts == []  # it stopped before storing anything

    eng.gated.release(1)
    state = await b
    assert state is not None and state.status is S.COMPLETED
    keys = await eng.image_keys(job_id)
    assert keys and all("/a2/" in k and eng.storage.exists(k) for k in keys)
    assert await eng.balance("u1") == (8, 0, 2)  # charged once
    assert await eng.audit_ok()


async def test_a_stale_attempts_provider_error_does_not_fail_or_requeue_the_live_one(eng: Engine) -> None:
    await eng.grant("u1", 10)
    job_id = await eng.submit("u1")
    a = await lapse_first_attempt(eng, job_id)
    b = asyncio.create_task(eng.worker("wB")(job_id))
    await eng.gated.wait_started(2)

    eng.gated.release(0, JobFailure(ErrorClass.PROVIDER_UNAVAILABLE, "503 from the stale call"))
    await a
    job = await eng.job(job_id)
    assert (job.status, job.attempts, job.error_class) == (S.GENERATING, 2, "timeout")
    assert eng.queue.items.count((job_id, 2.0)) <= 1  # no second retry was scheduled

    eng.gated.release(1)
    assert (await b).status is S.COMPLETED  # type: ignore[union-attr]


async def test_an_attempt_that_lost_its_job_during_upload_deletes_only_its_own_objects(eng: Engine) -> None:
    await eng.grant("u1", 10)
    job_id = await eng.submit("u1", model="local")
    eng.storage.hold_puts = asyncio.Event()
    a = asyncio.create_task(eng.worker("wA")(job_id))
    await eng.storage.put_started.wait()  # uploading, its put in flight
    await eng.cancel("u1", job_id)  # the owner cancels meanwhile
    eng.storage.hold_puts.set()
    await a
    job = await eng.job(job_id)
    assert job.status is S.CANCELLED and job.image_ids == ()
    assert eng.storage.deletes == eng.storage.puts and all("/a1/" in k for k in eng.storage.deletes)
    assert await eng.balance("u1") == (10, 0, 0)


# -- 7 (uploading) and 1 (the winner's image deleted) -----------------------------------------
async def test_a_lapse_while_uploading_never_generates_again_and_deletes_no_listed_image(eng: Engine) -> None:
    await eng.grant("u1", 10)
    job_id = await eng.submit("u1")
    eng.gated.auto = 0
    eng.storage.hold_puts = asyncio.Event()
    a = asyncio.create_task(eng.worker("wA")(job_id))
    await eng.storage.put_started.wait()
    assert (await eng.job(job_id)).lease_expires_at is not None  # uploading under a lease
    eng.clock.advance(LEASE_S + 1)  # wA is stuck in its upload
    await eng.sweeper()()
    eng.clock.advance(60)
    await eng.worker("wB")(job_id)  # a second worker finds nothing to buy again
    eng.storage.hold_puts.set()
    await a

    job = await eng.job(job_id)
    assert (job.status, job.error_class, job.failure_stage) == (S.FAILED, "storage", "uploading")
    assert eng.gated.calls == 1
    assert await eng.balance("u1") == (10, 0, 0)  # refunded
    assert not [k for k in await eng.image_keys(job_id) if k in eng.storage.deletes]


# -- 2. nothing stays uploading without a lease ------------------------------------------------
async def test_an_async_job_that_dies_while_uploading_is_fetched_again_not_left_uploading(eng: Engine) -> None:
    await eng.grant("u1", 10)
    job_id = await eng.submit("u1", model="async")
    await eng.worker("w1")(job_id)
    assert (await eng.job(job_id)).status is S.AWAITING_CALLBACK
    eng.storage.hold_puts = asyncio.Event()
    dying = asyncio.create_task(eng.resumer("r1")(job_id))
    await eng.storage.put_started.wait()
    job = await eng.job(job_id)
    assert job.status is S.UPLOADING and job.lease_expires_at is not None

    eng.clock.advance(LEASE_S + 1)
    await eng.sweeper()()
    assert (await eng.job(job_id)).status is S.AWAITING_CALLBACK  # back to the provider's result
    dying.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await dying
    eng.storage.hold_puts = None
    state = await eng.resumer("r2")(job_id)
    assert state is not None and state.status is S.COMPLETED
    assert eng.async_provider.calls == 1  # generated once, fetched twice
    assert await eng.balance("u1") == (7, 0, 3)


async def test_a_job_left_uploading_with_no_lease_is_settled_by_the_sweeper(eng: Engine) -> None:
    await eng.grant("u1", 10)
    job_id = await eng.submit("u1", model="local")
    async with eng.uow() as uow:  # what the old begin_upload left behind: uploading, no lease
        job = await uow.jobs.get(job_id)
        assert job is not None
        now = eng.clock.now()
        job.start(now=now, worker_id="gone", lease_expires_at=now)
        job.begin_generation(now=now)
        job.begin_upload(now=now, provider_cost_micros=0)
        leaseless = Job(msgspec.structs.replace(job.state, lease_expires_at=None))
        await uow.jobs.save(leaseless)
        await uow.commit()
    eng.clock.advance(60)
    await eng.sweeper()()
    job_state = await eng.job(job_id)
    assert (job_state.status, job_state.error_class) == (S.FAILED, "storage")
    assert await eng.balance("u1") == (10, 0, 0)


# -- 3. no image deleted after a commit that may have succeeded ---------------------------------
async def test_a_commit_reported_as_failed_keeps_the_objects_of_the_completed_job(eng: Engine) -> None:
    await eng.grant("u1", 10)
    job_id = await eng.submit("u1", model="local")
    fired: list[int] = []

    async def dropped_after_commit(_: object) -> None:
        if eng.storage.puts and not fired:  # the final unit: committed, then the answer is lost
            fired.append(1)
            raise ServiceUnavailable("commit: connection reset by peer")

    eng.hooks.after_commit = dropped_after_commit
    with contextlib.suppress(ServiceUnavailable):
        await eng.worker()(job_id)
    job = await eng.job(job_id)
    assert fired and job.status is S.COMPLETED
    keys = await eng.image_keys(job_id)
    assert keys and all(eng.storage.exists(k) for k in keys) and eng.storage.deletes == []
    assert await eng.balance("u1") == (8, 0, 2)


async def test_a_cancellation_during_the_post_commit_publish_keeps_the_objects(eng: Engine) -> None:
    await eng.grant("u1", 10)
    job_id = await eng.submit("u1", model="local")

    class CancelledOnCompletion:
        async def publish(self, events: Sequence[JobStatusChanged]) -> None:
            if any(e.status is S.COMPLETED for e in events):
                raise asyncio.CancelledError  # embedded shutdown, or Dramatiq's time limit

    with pytest.raises(asyncio.CancelledError):
        await eng.worker(publisher=CancelledOnCompletion())(job_id)
    keys = await eng.image_keys(job_id)
    assert (await eng.job(job_id)).status is S.COMPLETED
    assert keys and all(eng.storage.exists(k) for k in keys) and eng.storage.deletes == []


async def test_a_commit_that_failed_before_committing_deletes_the_attempts_objects(eng: Engine) -> None:
    await eng.grant("u1", 10)
    job_id = await eng.submit("u1", model="local")

    async def refused(_: object) -> None:
        if eng.storage.puts:
            raise ServiceUnavailable("commit: database went away")

    eng.hooks.before_commit = refused
    with pytest.raises(ServiceUnavailable):
        await eng.worker()(job_id)
    eng.hooks.before_commit = None
    assert eng.storage.puts and eng.storage.deletes == eng.storage.puts  # proven unlisted
    assert not any(eng.storage.exists(k) for k in eng.storage.puts)


# -- 6. extra images ----------------------------------------------------------------------------
async def test_extra_images_are_dropped_and_the_capture_stays_within_the_reservation(eng: Engine) -> None:
    await eng.grant("u1", 10)
    job_id = await eng.submit("u1", n=1)
    eng.gated.auto = 2  # the provider returns three images for n=1
    state = await eng.worker()(job_id)
    assert state is not None and state.status is S.COMPLETED
    assert len(state.image_ids) == 1 and state.charged_credits == 2
    assert len(eng.storage.puts) == 1
    assert await eng.balance("u1") == (8, 0, 2)


# -- 7. a lapse while generating is an unknown outcome --------------------------------------------
async def test_a_lapse_while_generating_gets_one_more_try_at_most(eng: Engine) -> None:
    await eng.grant("u1", 10)
    job_id = await eng.submit("u1")
    a = await lapse_first_attempt(eng, job_id)
    b = asyncio.create_task(eng.worker("wB")(job_id))
    await eng.gated.wait_started(2)
    eng.clock.advance(LEASE_S + 1)
    await eng.sweeper()()
    job = await eng.job(job_id)
    assert (job.status, job.error_class, job.attempts) == (S.FAILED, "timeout", 2)
    assert await eng.balance("u1") == (10, 0, 0)
    eng.gated.release(0)
    eng.gated.release(1)
    await asyncio.gather(a, b)
    assert (await eng.job(job_id)).status is S.FAILED and eng.storage.puts == []
    assert eng.gated.calls == 2


# -- 8. reservations expire ----------------------------------------------------------------------
async def test_an_expired_reservation_is_released_and_its_job_failed(eng: Engine) -> None:
    await eng.grant("u1", 10)
    job_id = await eng.submit("u1", model="local")  # its message is lost: no worker runs it
    eng.clock.advance(3601)
    await eng.sweeper()()
    job = await eng.job(job_id)
    assert (job.status, job.error_class) == (S.FAILED, "timeout")
    assert await eng.balance("u1") == (10, 0, 0)
    assert await eng.audit_ok()


# -- 9. awaiting_callback has a deadline, reachable or not --------------------------------------
async def test_an_unreachable_provider_past_the_max_wait_fails_the_job_with_a_refund(eng: Engine) -> None:
    await eng.grant("u1", 10)
    job_id = await eng.submit("u1", model="async")
    await eng.worker("w1")(job_id)
    eng.async_provider.unreachable = True
    eng.clock.advance(601)
    state = await eng.resumer(max_wait_s=600)(job_id)
    assert state is not None and (state.status, state.error_class) == (S.FAILED, "timeout")
    assert await eng.balance("u1") == (10, 0, 0)


async def test_the_sweeper_fails_a_job_waiting_past_its_max_wait(eng: Engine) -> None:
    await eng.grant("u1", 10)
    job_id = await eng.submit("u1", model="async")
    await eng.worker("w1")(job_id)
    eng.clock.advance(599)
    await eng.sweeper(max_wait_s=600)()
    assert (await eng.job(job_id)).status is S.AWAITING_CALLBACK
    eng.clock.advance(2)
    await eng.sweeper(max_wait_s=600)()
    job = await eng.job(job_id)
    assert (job.status, job.error_class) == (S.FAILED, "timeout")
    assert await eng.balance("u1") == (10, 0, 0)


# -- 10. pool timeouts and the lease renewer ----------------------------------------------------
async def test_a_pool_checkout_timeout_is_service_unavailable(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'pool.db'}", pool_size=1,
                           max_overflow=0, pool_timeout=0.05)
    await create_schema(engine)
    try:
        async with engine.connect():  # the only connection is busy
            with pytest.raises(ServiceUnavailable, match="database unreachable"):
                async with SqlAlchemyUnitOfWorkFactory(engine)():
                    pass
    finally:
        await engine.dispose()
    assert issubclass(PoolTimeout, Exception)


async def leased_sql_job(eng: Engine, worker_id: str, lease_s: float, clock: SystemClock) -> str:
    job_id = await eng.submit("u1", model="local")
    async with eng.uow() as uow:
        job = await uow.jobs.get(job_id)
        assert job is not None
        job.start(now=clock.now(), worker_id=worker_id,
                  lease_expires_at=clock.now() + timedelta(seconds=lease_s))
        await uow.jobs.save(job)
        await uow.commit()
    return job_id


async def test_the_lease_renewer_survives_any_error_and_keeps_renewing(eng: Engine) -> None:
    await eng.grant("u1", 10)
    clock, lease_s = SystemClock(), 0.09
    job_id = await leased_sql_job(eng, "w1", lease_s, clock)
    failures = [RuntimeError("driver bug"), PoolTimeout("QueuePool limit reached"),
                ServiceUnavailable("blip")]

    async def flaky(_: object) -> None:
        if failures:
            raise failures.pop(0)

    uow = SqlAlchemyUnitOfWorkFactory(eng.engine, faults=CommitFaults(before_commit=flaky))
    keeper = LeaseKeeper(RenewLease(uow=uow, clock=clock, worker_id="w1", lease_s=lease_s),
                         clock, lease_s)
    async with keeper.hold(job_id):
        await asyncio.sleep(0.5)
        assert not failures  # every error was met ...
        assert (await eng.job(job_id)).lease_expires_at > clock.now()  # ... and survived


async def test_a_worker_that_lost_its_lease_stops_work_on_that_job(eng: Engine) -> None:
    await eng.grant("u1", 10)
    clock, lease_s = SystemClock(), 0.09
    job_id = await leased_sql_job(eng, "w1", lease_s, clock)
    keeper = LeaseKeeper(RenewLease(uow=eng.uow, clock=clock, worker_id="w1", lease_s=lease_s),
                         clock, lease_s)
    async with eng.uow() as uow:  # another attempt took the job over
        job = await uow.jobs.get(job_id)
        assert job is not None
        taken = Job(msgspec.structs.replace(job.state, attempts=2, worker_id="w2"))
        await uow.jobs.save(taken)
        await uow.commit()
    worked: list[str] = []

    async def work() -> None:
        async with keeper.hold(job_id, Attempt(1, "w1")):
            await asyncio.sleep(5)
            worked.append("finished")

    with pytest.raises(StaleAttempt):
        await asyncio.wait_for(work(), timeout=2)
    assert worked == []
    assert (await eng.job(job_id)).worker_id == "w2"


# -- 17 (reaper). lapsed leases first, and no re-sending ------------------------------------------
async def test_a_backlog_of_queued_jobs_does_not_starve_lease_recovery(eng: Engine) -> None:
    await eng.grant("u1", 1000)
    for _ in range(120):
        await eng.submit("u1", model="local")
    job_id = await eng.submit("u1", model="local")  # the newest job, taken by a worker that dies
    async with eng.uow() as uow:
        job = await uow.jobs.get(job_id)
        assert job is not None
        job.start(now=eng.clock.now(), worker_id="dead",
                  lease_expires_at=eng.clock.now() + timedelta(seconds=LEASE_S))
        job.begin_generation(now=eng.clock.now())
        await uow.jobs.save(job)
        await uow.commit()
    eng.clock.advance(LEASE_S + 1)
    await eng.sweeper()(100)
    assert (await eng.job(job_id)).status is S.QUEUED  # recovered in the first pass


async def test_reapers_do_not_resend_what_was_dispatched(eng: Engine) -> None:
    await eng.grant("u1", 10)
    job_id = await eng.submit("u1", model="local")
    eng.queue.items.clear()  # the submit's own message went out
    first, second = eng.sweeper(), eng.sweeper()  # two worker processes
    await first()
    await second()
    assert eng.queue.items == []  # just dispatched: nothing to re-send
    eng.clock.advance(301)  # long enough that the message may be lost
    await first()
    await second()
    assert [j for j, _ in eng.queue.items] == [job_id]  # re-sent once, not once per process
