"""GET /v1/jobs/{id}/events: the job's changes as Server-Sent Events, over the embedded profile."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from entrypoints.settings import Settings
from tests.integration.http.conftest import Api, running_api

pytestmark = pytest.mark.integration


@pytest.fixture
async def slow_api(tmp_path: Path) -> AsyncIterator[Api]:
    """The API whose local provider takes 0.2 s, so a watcher sees the job live."""
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path / "home")},
                                 public_base_url="http://testserver.local", local_latency_s=0.2)
    async with running_api(settings) as running:
        yield running


def parse_sse(text: str) -> list[dict[str, object]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line
                      and not line.startswith(":"))
        if "data" in fields:
            events.append({"event": fields.get("event"), "id": fields.get("id"),
                           **json.loads(fields["data"])})
    return events


async def test_a_watcher_sees_every_state_in_order_and_the_stream_ends_when_the_job_is_done(
        slow_api: Api) -> None:
    headers = await slow_api.key_for("alice", credits=10)
    job = (await slow_api.client.post("/v1/jobs", json={"prompt": "a fox", "size": "64x64"},
                                      headers=headers)).json()
    response = await asyncio.wait_for(
        slow_api.client.get(f"/v1/jobs/{job['id']}/events", headers=headers), timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    statuses = [e["status"] for e in events]
    assert statuses[-1] == "completed" and events[-1]["terminal"] is True
    order = ["queued", "processing", "generating", "uploading", "completed"]
    assert [order.index(s) for s in statuses] == sorted(order.index(s) for s in statuses)
    assert "generating" in statuses  # seen live, not only the final snapshot
    assert [e["id"] for e in events] == [str(i) for i in range(1, len(events) + 1)]
    assert all(e["event"] == "status" and e["jobId"] == job["id"] for e in events)


async def test_a_late_watcher_gets_the_current_state_at_once(api: Api) -> None:
    headers = await api.key_for("bob", credits=10)
    job = (await api.client.post("/v1/jobs", json={"prompt": "a fox", "size": "64x64"},
                                 headers=headers)).json()
    await api.settle()
    response = await api.client.get(f"/v1/jobs/{job['id']}/events", headers=headers)
    events = parse_sse(response.text)
    assert [(e["status"], e["progressPercent"]) for e in events] == [("completed", 100)]


async def test_another_users_job_stream_is_404_and_no_key_is_401(api: Api) -> None:
    owner = await api.key_for("carol", credits=10)
    other = await api.key_for("mallory")
    job = (await api.client.post("/v1/jobs", json={"prompt": "x", "size": "64x64"},
                                 headers=owner)).json()
    assert (await api.client.get(f"/v1/jobs/{job['id']}/events", headers=other)).status_code == 404
    assert (await api.client.get(f"/v1/jobs/{job['id']}/events")).status_code == 401
    assert (await api.client.get("/v1/jobs/job_nope/events", headers=owner)).json()["error"]["type"] == "not_found"
