"""OutboxSignal wakes the relay loop at once after a commit, from this loop or another thread."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from adapters.memory import InMemoryUnitOfWorkFactory
from adapters.outbox_signal import OutboxSignal
from application.use_cases.relay_outbox import dispatch_message
from entrypoints.background import every
from tests.contracts import at

pytestmark = pytest.mark.unit


async def test_a_notification_before_the_wait_is_not_lost_and_is_consumed_once() -> None:
    signal = OutboxSignal()
    signal.notify()
    assert await signal.wait(5) is True
    assert await signal.wait(0.01) is False


async def test_a_notification_from_another_thread_wakes_the_waiter() -> None:
    signal = OutboxSignal()
    waiter = asyncio.create_task(signal.wait(5))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    threading.Thread(target=signal.notify).start()
    assert await waiter is True
    assert time.monotonic() - started < 1


async def test_a_commit_that_adds_an_unclaimed_message_wakes_the_relay_loop_at_once() -> None:
    signal = OutboxSignal()
    uow = InMemoryUnitOfWorkFactory(signal=signal)
    runs: list[float] = []

    async def step() -> int:
        runs.append(time.monotonic())
        return 0

    loop = asyncio.create_task(every("relay", 30.0, step, wake=signal.wait))
    await asyncio.sleep(0.01)
    async with uow() as unit:
        await unit.outbox.add(dispatch_message("msg_1", "job_1", now=at(0), own=True))
        await unit.commit()  # claimed by its writer: no wake-up
    await asyncio.sleep(0.05)
    assert len(runs) == 1
    async with uow() as unit:
        await unit.outbox.add(dispatch_message("msg_2", "job_2", now=at(0)))
        await unit.commit()
    await asyncio.sleep(0.05)
    loop.cancel()
    assert len(runs) == 2  # the 30 s interval did not have to pass
