"""RedisJobEvents: the production hub, on the real Redis of REDIS_URL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from domain.jobs import JobStatus, JobStatusChanged
from tests.integration.services import require_redis

pytestmark = pytest.mark.integration


def event(job_id: str, status: JobStatus) -> JobStatusChanged:
    return JobStatusChanged(job_id=job_id, user_id="u1", status=status, progress_percent=5,
                            current_step="step", occurred_at=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
def redis_url() -> str:
    return require_redis()


async def test_a_subscriber_gets_its_jobs_events_in_order_and_not_other_jobs(redis_url: str) -> None:
    from adapters.events.redis_pubsub import RedisJobEvents

    publisher, watcher = RedisJobEvents.from_url(redis_url), RedisJobEvents.from_url(redis_url)
    mine, other = f"job_{uuid.uuid4().hex}", f"job_{uuid.uuid4().hex}"
    try:
        async with watcher.subscribe(mine) as queue, watcher.subscribe(None) as everything:
            await publisher.publish([event(other, JobStatus.PROCESSING), event(mine, JobStatus.PROCESSING),
                                     event(mine, JobStatus.COMPLETED)])
            got = [await asyncio.wait_for(queue.get(), 5) for _ in range(2)]
            seen = []
            while not {mine, other} <= {e.job_id for e in seen} and len(seen) < 50:
                seen.append(await asyncio.wait_for(everything.get(), 5))  # others may publish too
        assert got == [event(mine, JobStatus.PROCESSING), event(mine, JobStatus.COMPLETED)]
        assert {e.job_id for e in seen} >= {mine, other}
        assert queue.empty()
    finally:
        await publisher.close()
        await watcher.close()
