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


async def test_a_preview_event_crosses_redis_beside_status_changes(redis_url: str) -> None:
    from adapters.events.redis_pubsub import RedisJobEvents
    from domain.previews import JobPreviewReady

    publisher, watcher = RedisJobEvents.from_url(redis_url), RedisJobEvents.from_url(redis_url)
    job = f"job_{uuid.uuid4().hex}"
    preview = JobPreviewReady(job_id=job, user_id="u1", index=1, key=f"users/u1/jobs/{job}/preview.png",
                              occurred_at=datetime(2026, 12, 1, tzinfo=UTC))
    try:
        async with watcher.subscribe(job) as queue:
            await publisher.publish([event(job, JobStatus.GENERATING), preview])
            got = [await asyncio.wait_for(queue.get(), 5) for _ in range(2)]
        assert got == [event(job, JobStatus.GENERATING), preview]
    finally:
        await publisher.close()
        await watcher.close()


async def test_the_redis_preview_index_is_shared_replaced_and_deleted(redis_url: str) -> None:
    from adapters.previews.redis_index import RedisPreviewIndex
    from domain.previews import JobPreview

    prefix = f"imagegen-test:{uuid.uuid4().hex}:"
    writer = RedisPreviewIndex.from_url(redis_url, ttl_s=60, prefix=prefix)
    reader = RedisPreviewIndex.from_url(redis_url, ttl_s=60, prefix=prefix)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    first = JobPreview(job_id="j1", user_id="u1", key="k0", index=0, content_type="image/png", updated_at=at)
    try:
        await writer.put(first)
        await writer.put(msgspec_replace(first, index=1))
        assert (await reader.get("j1")).index == 1  # type: ignore[union-attr]
        assert (await reader.delete("j1")).index == 1  # type: ignore[union-attr]
        assert await writer.get("j1") is None
    finally:
        await writer.close()
        await reader.close()


def msgspec_replace(struct, **changes):  # type: ignore[no-untyped-def]
    import msgspec

    return msgspec.structs.replace(struct, **changes)
