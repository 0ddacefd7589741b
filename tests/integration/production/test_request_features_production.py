"""The request features on the production profile: Idempotency-Key on Postgres, rate limits in
Redis (Lua), and a batch on Postgres, through the real app."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from entrypoints.http.app import create_app
from tests.integration.production.conftest import empty_tables
from tests.integration.production.helpers import RecordingQueue, production_container, relay_everything
from tests.integration.services import require_redis

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_url() -> str:
    return require_redis()


async def test_idempotency_rate_limits_and_batches_work_on_postgres_and_redis(
        migrated_postgres: str, redis_url: str, tmp_path: Path) -> None:
    queue = RecordingQueue()
    container = production_container(migrated_postgres, tmp_path, queue=queue, redis_url=redis_url,
                                     rate_limit_per_minute=60, rate_limit_burst=12, db_pool_size=10)
    await empty_tables(container.adapters.engine())
    app = create_app(container=container, manage_container=False, run_worker=False)
    try:
        await container.use_cases.ensure_user()("alice", starter_credits=0)
        issued = await container.use_cases.create_api_key()("alice")
        await container.use_cases.grant_credits()("alice", 10)
        headers = {"Authorization": f"Bearer {issued.secret}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            keyed = {**headers, "Idempotency-Key": "pg-1"}
            body = {"prompt": "p", "size": "64x64"}
            answers = await asyncio.gather(*(client.post("/v1/jobs", json=body, headers=keyed) for _ in range(4)))
            assert {a.status_code for a in answers} <= {201, 409}
            assert len({a.json()["id"] for a in answers if a.status_code == 201}) == 1
            batch = await client.post("/v1/batches", json={"prompts": ["a", "b"], "size": "64x64"},
                                      headers=headers)
            assert batch.status_code == 201, batch.text
            jobs = (await client.get("/v1/jobs", headers=headers)).json()["items"]
            await relay_everything(container)  # the API's relay sends what the submits committed
            assert len(jobs) == 3 and len(queue.items) == 3
            codes = [(await client.get("/v1/credits", headers=headers)).status_code for _ in range(12)]
            assert codes.count(429) >= 1 and codes[0] == 200
    finally:
        await container.close()
