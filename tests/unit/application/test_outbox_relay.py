"""The outbox path: SubmitGeneration commits a message with the job, publishes it at once when
the queue works, and the relay publishes what could not be (a dead queue, a crash)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.ids import UlidIdGenerator
from application.commands import SubmitJob
from application.ports import OutboxMessage
from application.use_cases.relay_outbox import DISPATCH_JOB, RelayOutbox
from application.use_cases.submit_generation import SubmitGeneration
from domain.catalog import ModelCatalog
from tests.unit.application.conftest import MODELS, RecordingQueue, World

pytestmark = pytest.mark.unit


class BrokenQueue:
    """Refuses everything until `fixed`; then behaves like `RecordingQueue`."""

    def __init__(self, fail_after: int = 0) -> None:
        self.items: list[tuple[str, float]] = []
        self.fail_after = fail_after

    async def enqueue(self, job_id: str, *, delay_s: float = 0.0) -> None:
        if len(self.items) >= self.fail_after:
            raise ConnectionError("Redis is down")
        self.items.append((job_id, delay_s))


async def undispatched(world: World) -> list[OutboxMessage]:
    """Queue messages a relay could claim now (job events aside)."""
    now = world.clock.now()
    async with world.uow() as uow:
        claimed = await uow.outbox.claim_undispatched(100, now=now, lease_until=now)
    return [m for m in claimed if m.topic == DISPATCH_JOB]


def submit_with(world: World, queue: object) -> SubmitGeneration:
    return SubmitGeneration(uow=world.uow, catalog=ModelCatalog(MODELS), providers=world.registry,
                            queue=queue, clock=world.clock, ids=UlidIdGenerator(),  # type: ignore[arg-type]
                            publisher=world.events)


async def submit(use_case: SubmitGeneration, prompt: str = "a lighthouse") -> str:
    result = await use_case(SubmitJob(user_id="user_1", prompt=prompt, model="local", size="64x64", n=1))
    return result.job.id


async def test_an_accepted_job_is_enqueued_at_once_and_leaves_nothing_for_the_relay(world: World) -> None:
    await world.grant()("user_1", 10)
    job_id = await submit(world.submit())
    assert world.queue.items == [(job_id, 0.0)]
    assert await undispatched(world) == []


async def test_a_job_submitted_while_the_queue_is_down_waits_in_the_outbox_for_the_relay(
    world: World
) -> None:
    await world.grant()("user_1", 10)
    job_id = await submit(submit_with(world, BrokenQueue()))
    assert [m.job_id for m in await undispatched(world)] == [job_id]

    relay = RelayOutbox(uow=world.uow, queue=world.queue, clock=world.clock)
    assert await relay() == 2  # the dispatch, and the job's queued event (memory keeps every event)
    assert await relay() == 0
    assert world.queue.items == [(job_id, 0.0)]


async def test_a_rejected_submit_leaves_no_outbox_message(world: World) -> None:
    with pytest.raises(Exception, match="(?i)credit"):
        await submit(world.submit())
    assert await undispatched(world) == []
    assert world.queue.items == []


async def test_the_relay_keeps_what_it_could_not_publish_and_reports_the_queue_error(
    world: World
) -> None:
    await world.grant()("user_1", 10)
    down = BrokenQueue()
    ids = []
    for index in range(3):
        ids.append(await submit(submit_with(world, down), f"p{index}"))
        world.clock.advance(1)  # the outbox is ordered by creation time
    flaky = BrokenQueue(fail_after=2)
    with pytest.raises(ConnectionError):
        await RelayOutbox(uow=world.uow, queue=flaky, clock=world.clock)()
    assert [job for job, _ in flaky.items] == ids[:2]
    assert [m.job_id for m in await undispatched(world)] == ids[2:]


async def test_a_message_due_later_is_published_with_the_time_left_as_delay(world: World) -> None:
    now = world.clock.now()
    async with world.uow() as uow:
        await uow.outbox.add(OutboxMessage(id="msg_1", job_id="job_1", topic=DISPATCH_JOB,
                                           created_at=now, not_before=now + timedelta(seconds=30)))
        await uow.commit()
    world.clock.advance(10)
    queue = RecordingQueue()
    assert await RelayOutbox(uow=world.uow, queue=queue, clock=world.clock)() == 1
    assert queue.items == [("job_1", 20.0)]
