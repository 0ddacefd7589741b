"""The in-process queue: bounded concurrency, delays on the clock, logged failures, drain, close."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from structlog.testing import capture_logs

from adapters.clock import FakeClock
from adapters.tasks.in_process import InProcessTaskQueue

pytestmark = pytest.mark.unit


async def test_runs_every_job_without_exceeding_the_concurrency_cap() -> None:
    running = peak = 0
    done: list[str] = []

    async def handler(job_id: str) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        for _ in range(3):
            await asyncio.sleep(0)
        running -= 1
        done.append(job_id)

    queue = InProcessTaskQueue(handler, concurrency=3, clock=FakeClock())
    for i in range(10):
        await queue.enqueue(f"job_{i}")
    await queue.drain()
    assert sorted(done) == sorted(f"job_{i}" for i in range(10))
    assert peak == 3


async def test_delay_is_waited_on_the_clock() -> None:
    clock = FakeClock()
    start = clock.now()
    seen: list[datetime] = []

    async def handler(job_id: str) -> None:
        seen.append(clock.now())

    queue = InProcessTaskQueue(handler, concurrency=1, clock=clock)
    await queue.enqueue("job_1", delay_s=30)
    await queue.drain()
    assert clock.sleeps == [30]
    assert [(t - start).total_seconds() for t in seen] == [30]


async def test_a_crashing_handler_is_logged_and_later_jobs_still_run() -> None:
    done: list[str] = []

    async def handler(job_id: str) -> None:
        if job_id == "job_bad":
            raise RuntimeError("boom")
        done.append(job_id)

    queue = InProcessTaskQueue(handler, concurrency=1, clock=FakeClock())
    with capture_logs() as logs:
        for job_id in ("job_1", "job_bad", "job_2"):
            await queue.enqueue(job_id)
        await queue.drain()
        await queue.enqueue("job_3")
        await queue.drain()
    assert done == ["job_1", "job_2", "job_3"]
    [failure] = [entry for entry in logs if entry["event"] == "task_failed"]
    assert failure["job_id"] == "job_bad" and failure["log_level"] == "error"
    assert failure["exc_info"]


async def test_drain_waits_for_running_and_newly_enqueued_work() -> None:
    release = asyncio.Event()
    done: list[str] = []
    queue = InProcessTaskQueue(concurrency=2, clock=FakeClock())

    async def handler(job_id: str) -> None:
        await release.wait()
        done.append(job_id)
        if job_id == "job_1":
            await queue.enqueue("job_retry", delay_s=5)

    queue.bind(handler)
    await queue.enqueue("job_1")
    drained = asyncio.create_task(queue.drain())
    await asyncio.sleep(0.01)
    assert not drained.done() and queue.size == 1
    release.set()
    await asyncio.wait_for(drained, 1)
    assert done == ["job_1", "job_retry"] and queue.size == 0


async def test_enqueue_needs_a_bound_handler() -> None:
    with pytest.raises(RuntimeError):
        await InProcessTaskQueue(concurrency=1).enqueue("job_1")


async def test_close_cancels_pending_work_and_drops_later_jobs() -> None:
    started: list[str] = []
    cancelled: list[str] = []

    async def handler(job_id: str) -> None:
        started.append(job_id)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(job_id)
            raise

    queue = InProcessTaskQueue(handler, concurrency=1, clock=FakeClock())
    await queue.enqueue("job_running")
    await queue.enqueue("job_waiting")
    await asyncio.sleep(0)
    await asyncio.wait_for(queue.close(), 1)
    with capture_logs() as logs:
        await queue.enqueue("job_late")
    await asyncio.sleep(0)
    assert started == ["job_running"] and cancelled == ["job_running"]
    assert queue.size == 0
    assert logs[0]["event"] == "task_dropped_queue_closed"
