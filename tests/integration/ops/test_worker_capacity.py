"""Worker capacity from Redis heartbeats, and the ETA that divides by it."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from adapters.capacity.redis_heartbeat import RedisWorkerCapacity
from adapters.capacity.static import StaticWorkerCapacity
from tests.integration.services import require_redis

pytestmark = pytest.mark.integration


async def test_capacity_is_the_sum_of_live_heartbeats_and_a_dead_worker_stops_counting() -> None:
    url = require_redis()
    capacity = RedisWorkerCapacity.from_url(url, queue_name=f"q-{uuid.uuid4().hex}")
    try:
        assert await capacity.total() == 0
        await capacity.beat("host-a-1", 8, ttl_s=30)
        await capacity.beat("host-a-2", 8, ttl_s=30)
        await capacity.beat("host-b-1", 4, ttl_s=0.2)  # stops beating
        assert await capacity.total() == 20  # 2 processes x 8 threads + 4
        await asyncio.sleep(0.35)
        assert await capacity.total() == 16
    finally:
        await capacity.aclose()


async def test_the_eta_divides_the_queue_by_the_live_capacity(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from application.use_cases.get_job import GetJob
    from tests.integration.http.request_helpers import api_with

    async with api_with(tmp_path) as api:  # no worker: jobs stay queued
        headers = await api.key_for("u", credits=50)
        ids = [(await api.client.post("/v1/jobs", json={"prompt": f"p{i}", "size": "32x32"},
                                      headers=headers)).json()["id"] for i in range(13)]
        await _fake_history(api, ids[:5])
        container = api.container

        async def eta(slots: int) -> int | None:
            get = GetJob(uow=container.adapters.uow, clock=container.core.clock(),
                         capacity=StaticWorkerCapacity(slots))
            return (await get("u", ids[-1])).eta_seconds

        one, eight, none = await eta(1), await eta(8), await eta(0)
        assert one is not None and eight is not None and one > eight  # more slots, sooner
        assert none is None  # no live worker: no made-up ETA


async def _fake_history(api, job_ids: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Mark `job_ids` completed after 10 s each, so the model has a processing-time history."""
    from datetime import timedelta

    from sqlalchemy import update

    from adapters.persistence.sqlalchemy.tables import jobs

    now = api.container.core.clock().now()
    async with api.container.adapters.engine().begin() as conn:
        await conn.execute(update(jobs).where(jobs.c.id.in_(job_ids)).values(
            status="completed", started_at=now - timedelta(seconds=10), completed_at=now))
