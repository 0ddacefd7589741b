"""Issue 8, cases 14 and 17: every side effect of a transition is an outbox row committed with
it, and the relay publishes outside row locks, at least once.

Faults come through the real unit of work (`CommitFaults`) and a real relay over SQLite and
Postgres; the queue is a test double standing in for Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers
from sqlalchemy import select

from adapters.clock import FakeClock
from adapters.persistence.sqlalchemy.tables_outbox import outbox
from adapters.persistence.sqlalchemy.uow import CommitFaults, SqlAlchemyUnitOfWorkFactory
from application.commands import SubmitJob
from application.use_cases.relay_outbox import RelayOutbox, dispatch_message
from domain.jobs import JobStatus, JobStatusChanged
from domain.webhooks import WebhookEndpoint
from tests.integration.engine.backends import engine_container

pytestmark = pytest.mark.integration


class Crash(Exception):
    """The process dying right after a commit (before any code after it ran)."""


def with_faults(container: Any, faults: CommitFaults) -> None:
    engine = container.adapters.engine()
    factory = SqlAlchemyUnitOfWorkFactory(engine, signal=container.adapters.outbox_signal(), faults=faults)
    container.adapters.uow.override(providers.Callable(factory))


async def add_endpoint(container: Any, user_id: str) -> None:
    await container.watching.webhook_store().add_endpoint(WebhookEndpoint(
        id=f"ep_{user_id}", user_id=user_id, url="https://client.example/hooks",
        event_types=("job.completed", "job.failed"), secret="whsec_test",
        created_at=datetime.now(UTC)))


async def test_a_crash_right_after_the_completing_commit_still_delivers_job_completed(
        backend: str, tmp_path: Path) -> None:
    async with engine_container(backend, tmp_path) as c:
        await c.use_cases.ensure_user()("user_hook", starter_credits=5)
        await add_endpoint(c, "user_hook")
        job_id = (await c.use_cases.submit_job()(SubmitJob(
            user_id="user_hook", prompt="hooked", model="local", size="64x64", n=1))).job.id

        async def crash_after_completion(events: Sequence[JobStatusChanged]) -> None:
            if any(e.status is JobStatus.COMPLETED for e in events):
                raise Crash("killed after COMMIT")

        with_faults(c, CommitFaults(after_commit=crash_after_completion))
        with pytest.raises(Crash):
            await c.use_cases.process_job()(job_id)
        c.adapters.uow.reset_override()
        state = (await c.use_cases.get_job()("user_hook", job_id)).job
        await c.use_cases.relay_outbox()(100)  # any relay, in any process, later
        await c.use_cases.relay_outbox()(100)  # a second pass finds nothing more
        deliveries = await c.watching.webhook_store().deliveries_of("user_hook", limit=10)
    assert state.status is JobStatus.COMPLETED
    assert [(d.event_type, d.endpoint_id) for d in deliveries] == [("job.completed", "ep_user_hook")]
    assert job_id in deliveries[0].payload


async def test_a_retry_is_committed_with_its_queue_message(backend: str, tmp_path: Path) -> None:
    async with engine_container(backend, tmp_path, local_failure_rate=1.0) as c:
        await c.use_cases.ensure_user()("user_retry", starter_credits=5)
        queue = c.adapters.queue()
        job_id = (await c.use_cases.submit_job()(SubmitJob(
            user_id="user_retry", prompt="flaky", model="local", size="64x64", n=1))).job.id
        await c.use_cases.relay_outbox()(100)  # production leaves the submit's to the relay
        queue.items.clear()

        async def crash_after_requeue(events: Sequence[JobStatusChanged]) -> None:
            if any(e.status is JobStatus.QUEUED for e in events):
                raise Crash("killed after COMMIT")

        with_faults(c, CommitFaults(after_commit=crash_after_requeue))
        with pytest.raises(Crash):
            await c.use_cases.process_job()(job_id)
        c.adapters.uow.reset_override()
        assert queue.items == []  # the direct send never happened
        relay = RelayOutbox(uow=c.adapters.uow, queue=queue, clock=FakeClock(
            datetime.now(UTC).replace(year=datetime.now(UTC).year + 1)))  # the own claim lapsed
        await relay(100)
        state = (await c.use_cases.get_job()("user_retry", job_id)).job
    assert state.status is JobStatus.QUEUED and state.attempts == 1
    assert [job for job, _ in queue.items] == [job_id]


class GatedQueue:
    """Holds every send for a job id starting with `job_slow` until `gate` opens."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.items: list[tuple[str, float]] = []

    async def enqueue(self, job_id: str, *, delay_s: float = 0.0) -> None:
        if job_id.startswith("job_slow"):
            self.entered.set()
            await self.gate.wait()
        self.items.append((job_id, delay_s))


async def test_a_slow_publisher_blocks_neither_a_submit_nor_a_mark_of_its_own_batch(
        backend: str, tmp_path: Path) -> None:
    queue = GatedQueue()
    async with engine_container(backend, tmp_path, queue=queue) as c:
        await c.use_cases.ensure_user()("user_fast", starter_credits=5)
        now = datetime.now(UTC)
        async with c.adapters.uow() as uow:
            for index in range(3):
                await uow.outbox.add(dispatch_message(f"msg_slow{index}", f"job_slow{index}", now=now))
            await uow.commit()
        relay = asyncio.create_task(c.use_cases.relay_outbox()(100))
        await asyncio.wait_for(queue.entered.wait(), 10)  # the relay is inside a slow send

        started = time.monotonic()
        async with c.adapters.uow() as uow:  # e.g. a submit's mark on a row of that batch
            await uow.outbox.mark_dispatched(["msg_slow2"], at=now)
            await uow.commit()
        result = await c.use_cases.submit_job()(SubmitJob(
            user_id="user_fast", prompt="fast", model="local", size="64x64", n=1))
        took = time.monotonic() - started
        relay_was_busy = not relay.done()
        queue.gate.set()
        claimed = await asyncio.wait_for(relay, 10)
        await c.use_cases.relay_outbox()(100)  # production: the relay sends the submit's (ADR 0066)
        async with c.adapters.engine().connect() as conn:
            rows = dict((await conn.execute(select(outbox.c.job_id, outbox.c.dispatched_at).where(
                outbox.c.topic == "job.dispatch"))).all())
    assert relay_was_busy and took < 2.0
    assert (result.job.id, 0.0) in queue.items  # published by the submit or the next pass
    assert claimed == 3
    assert all(rows[job] is not None for job in (result.job.id, "job_slow0", "job_slow1", "job_slow2"))


class DyingQueue:
    """Sends, then kills the relay (BaseException: nothing after it runs) on the second send."""

    def __init__(self) -> None:
        self.items: list[str] = []

    async def enqueue(self, job_id: str, *, delay_s: float = 0.0) -> None:
        self.items.append(job_id)
        if len(self.items) == 2:
            raise KeyboardInterrupt("the relay's process died mid-batch")


async def test_after_a_relay_dies_mid_batch_every_message_is_published_at_least_once(
        backend: str, tmp_path: Path) -> None:
    async with engine_container(backend, tmp_path) as c:
        clock = FakeClock(datetime.now(UTC))
        async with c.adapters.uow() as uow:
            for index in range(3):
                await uow.outbox.add(dispatch_message(f"msg_{index}", f"job_{index}", now=clock.now()))
            await uow.commit()
        dying = DyingQueue()
        with pytest.raises(KeyboardInterrupt):
            await RelayOutbox(uow=c.adapters.uow, queue=dying, clock=clock, lease_s=30)(100)
        healthy = c.adapters.queue()
        relay = RelayOutbox(uow=c.adapters.uow, queue=healthy, clock=clock, lease_s=30)
        assert await relay(100) == 0  # still claimed by the dead relay: nobody sends them twice yet
        clock.advance(31)
        assert await relay(100) == 3
        assert await relay(100) == 0
    assert dying.items == ["job_0", "job_1"]
    assert sorted(job for job, _ in healthy.items) == ["job_0", "job_1", "job_2"]
