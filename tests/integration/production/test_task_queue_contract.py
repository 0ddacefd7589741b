"""The TaskQueue contract on the in-process queue and on Dramatiq over the real Redis
(a Dramatiq worker in a thread of the test process), plus what only the relay path shows."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import dramatiq
import pytest

from adapters.tasks.dramatiq_queue import PROCESS_ACTOR, DramatiqTaskQueue, make_redis_broker
from adapters.tasks.in_process import InProcessTaskQueue
from application.ports import TaskQueue
from tests.integration.services import require_redis

pytestmark = pytest.mark.integration


class Deliveries:
    """Job ids as a worker received them, with the time each arrived; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[tuple[str, float]] = []

    def record(self, job_id: str) -> None:
        with self._lock:
            self.items.append((job_id, time.monotonic()))

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[tuple[str, float]]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.items) >= count:
                    return list(self.items)
            await asyncio.sleep(0.02)
        raise AssertionError(f"only {len(self.items)} of {count} deliveries in {timeout_s} s")


class TaskQueueContract:
    @pytest.fixture
    def queue(self) -> TaskQueue:
        raise NotImplementedError

    async def test_every_enqueued_job_is_delivered_once(self, queue: TaskQueue, deliveries: Deliveries) -> None:
        for index in range(5):
            await queue.enqueue(f"job_{index}")
        got = await deliveries.wait_for(5)
        await asyncio.sleep(0.3)  # nothing more arrives
        assert sorted(job for job, _ in deliveries.items) == [f"job_{i}" for i in range(5)]
        assert len(got) == 5

    async def test_a_delayed_job_arrives_no_sooner_than_its_delay(
        self, queue: TaskQueue, deliveries: Deliveries
    ) -> None:
        sent = time.monotonic()
        await queue.enqueue("job_late", delay_s=1.0)
        await queue.enqueue("job_now")
        got = dict(await deliveries.wait_for(2))
        assert got["job_late"] - sent >= 0.95
        assert got["job_now"] < got["job_late"]


class TestInProcessTaskQueue(TaskQueueContract):
    @pytest.fixture
    def deliveries(self) -> Deliveries:
        return Deliveries()

    @pytest.fixture
    async def queue(self, deliveries: Deliveries) -> AsyncIterator[TaskQueue]:
        async def handler(job_id: str) -> None:
            deliveries.record(job_id)

        queue = InProcessTaskQueue(handler, concurrency=4)
        yield queue
        await queue.close()


class TestDramatiqTaskQueue(TaskQueueContract):
    @pytest.fixture
    def deliveries(self) -> Deliveries:
        return Deliveries()

    @pytest.fixture
    def queue(self, deliveries: Deliveries) -> Iterator[TaskQueue]:
        url = require_redis()
        broker = make_redis_broker(url, namespace=f"imagegen-test-{uuid.uuid4().hex[:8]}")
        queue_name = "contract"
        dramatiq.actor(deliveries.record, broker=broker, actor_name=PROCESS_ACTOR,
                       queue_name=queue_name, max_retries=0)
        worker = dramatiq.Worker(broker, worker_timeout=50, worker_threads=2)
        worker.start()
        try:
            yield DramatiqTaskQueue(broker, queue_name=queue_name)
        finally:
            worker.stop()
            broker.flush_all()
            broker.close()

    async def test_sending_to_a_closed_port_fails_fast_with_a_redis_error(self) -> None:
        import redis

        queue = DramatiqTaskQueue(make_redis_broker("redis://127.0.0.1:1/0", connect_timeout_s=0.5))
        started = time.monotonic()
        with pytest.raises(redis.ConnectionError):
            await queue.enqueue("job_1")
        assert time.monotonic() - started < 5
