"""Issue 11, SSE: one subscriber connection per process fanning out in memory, a per-key cap on
open streams, a maximum duration ending with a final event, heartbeats; 200 streams leave other
users' requests unaffected."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.hostile.conftest import production_api, profile_api
from tests.integration.hostile.served import served

pytestmark = pytest.mark.integration


async def queued_job(api, headers) -> str:
    r = await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"}, headers=headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def first_event(client: httpx.AsyncClient, url: str, headers, opened: asyncio.Event,
                      started: list[int]) -> None:
    """Open a stream, note its first `status` event, then hold it until `opened` is cleared."""
    async with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        lines = response.aiter_lines()  # kept referenced: closing it would close the stream
        while not (await anext(lines)).startswith("data: "):
            pass
        started.append(1)
        while opened.is_set():
            await asyncio.sleep(0.05)


def app_of(api):
    from entrypoints.http.app import create_app

    return create_app(container=api.container, manage_container=False, run_worker=False)


async def test_200_streams_use_one_subscriber_connection_and_leave_other_users_unaffected(
        migrated_postgres: str, tmp_path: Path) -> None:
    async with production_api(migrated_postgres, tmp_path, rate_limit_per_minute=0,
                              sse_max_streams_per_key=20, db_pool_size=10) as api:
        watchers = [await api.key_for(f"watcher{i}", credits=5) for i in range(10)]
        jobs = [await queued_job(api, h) for h in watchers]
        other = await api.key_for("bystander", credits=50)
        hub = api.container.adapters.publisher().hub
        async with served(app_of(api)) as base, httpx.AsyncClient(
                base_url=base, timeout=30, limits=httpx.Limits(max_connections=400)) as client:
            opened, started = asyncio.Event(), []
            opened.set()
            streams = [asyncio.create_task(first_event(client, f"/v1/jobs/{jobs[i % 10]}/events",
                                                       watchers[i % 10], opened, started))
                       for i in range(200)]
            deadline = time.monotonic() + 60
            while len(started) < 200 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert len(started) == 200
            assert hub.connections_opened == 1 and hub.watchers >= 200
            # the bystander's submits and its own stream work while 200 streams are open
            answers = await asyncio.gather(*(client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"},
                                                         headers=other) for _ in range(20)))
            assert [a.status_code for a in answers] == [201] * 20
            mine = answers[0].json()["id"]
            async with client.stream("GET", f"/v1/jobs/{mine}/events", headers=other) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        assert json.loads(line[6:])["jobId"] == mine
                        break
            in_use = len(hub._redis.connection_pool._in_use_connections)
            assert in_use <= 2  # the subscriber, at most one publish in flight
            opened.clear()
            await asyncio.wait_for(asyncio.gather(*streams), 30)


async def test_streams_past_the_per_key_cap_answer_429(profile_db, tmp_path: Path) -> None:
    async with profile_api(profile_db, tmp_path, sse_max_streams_per_key=3, rate_limit_per_minute=0) as api:
        headers = await api.key_for("alice", credits=5)
        job = await queued_job(api, headers)
        async with served(app_of(api)) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
            opened, started = asyncio.Event(), []
            opened.set()
            streams = [asyncio.create_task(first_event(client, f"/v1/jobs/{job}/events", headers,
                                                       opened, started)) for _ in range(3)]
            while len(started) < 3:
                await asyncio.sleep(0.02)
            refused = await client.get(f"/v1/jobs/{job}/events", headers=headers)
            assert refused.status_code == 429
            assert refused.json()["error"]["type"] == "rate_limited"
            other = await api.key_for("bob", credits=5)
            theirs = await queued_job(api, other)
            extra: list[int] = []
            more = asyncio.create_task(first_event(client, f"/v1/jobs/{theirs}/events", other, opened, extra))
            while not extra:
                await asyncio.sleep(0.02)  # another key is not affected by alice's cap
            opened.clear()
            await asyncio.gather(*streams, more)
            again: list[int] = []
            opened.set()
            reopened = asyncio.create_task(first_event(client, f"/v1/jobs/{job}/events", headers, opened, again))
            while not again:
                await asyncio.sleep(0.02)  # closed streams give their slots back
            opened.clear()
            await reopened


async def test_a_stream_on_a_job_that_never_finishes_ends_with_a_final_event_and_heartbeats(
        profile_db, tmp_path: Path) -> None:
    async with profile_api(profile_db, tmp_path, sse_max_duration_s=0.6, sse_heartbeat_s=0.1) as api:
        headers = await api.key_for("alice", credits=5)
        job = await queued_job(api, headers)
        started = time.monotonic()
        r = await asyncio.wait_for(api.client.get(f"/v1/jobs/{job}/events", headers=headers), 10)
        assert time.monotonic() - started < 5
        assert r.text.count(": keep-alive") >= 2
        blocks = [b for b in r.text.replace("\r\n", "\n").split("\n\n") if "data: " in b]
        last = dict(line.split(": ", 1) for line in blocks[-1].split("\n") if not line.startswith(":"))
        assert last["event"] == "end"
        assert json.loads(last["data"]) == {"jobId": job, "reason": "max_duration"}
