"""AwaitJob: returns the finished job as soon as its terminal event arrives, or the live one at the deadline."""

from __future__ import annotations

import asyncio
import time

import pytest

from adapters.clock import SystemClock
from application.commands import SubmitJob
from application.errors import NotFound
from application.use_cases.await_job import AwaitJob
from domain.jobs import JobStatus

pytestmark = pytest.mark.unit


async def test_the_wait_ends_with_the_terminal_state_or_at_the_deadline(world) -> None:  # type: ignore[no-untyped-def]
    await world.grant()("u1", 10)
    job = (await world.submit()(SubmitJob(user_id="u1", prompt="a", model="local", size="64x64"))).job
    wait = AwaitJob(uow=world.uow, events=world.events, clock=SystemClock())
    started = time.monotonic()
    assert (await wait("u1", job.id, timeout_s=0.2)).status is JobStatus.QUEUED
    assert 0.15 < time.monotonic() - started < 2
    waiting = asyncio.create_task(wait("u1", job.id, timeout_s=30))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    await world.run_queue()
    assert (await waiting).status is JobStatus.COMPLETED
    assert time.monotonic() - started < 0.9  # woken by the event, not by the 1 s poll
    with pytest.raises(NotFound):
        await wait("u2", job.id, timeout_s=0.1)
