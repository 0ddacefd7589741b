"""/v1/webhooks over HTTP, with a real receiver on 127.0.0.1 (allow-listed), plus /metrics and /readyz."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from domain.webhooks import verify
from entrypoints.settings import Settings
from tests.integration.http.conftest import Api, running_api
from tests.integration.webhooks_out.receiver import Receiver, running_receiver

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


@pytest.fixture
async def hooks_api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path / "home"),
                                  "IMAGEGEN_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
                                  "IMAGEGEN_METRICS_TOKEN": "scrape-me"},
                                 public_base_url="http://testserver.local")
    async with running_api(settings) as running:
        yield running


async def test_a_registered_endpoint_receives_the_jobs_events_signed_and_they_are_listed(
        hooks_api: Api, receiver: Receiver) -> None:
    headers = await hooks_api.key_for("alice", credits=10)
    created = await hooks_api.client.post("/v1/webhooks/endpoints", headers=headers, json={
        "url": receiver.url, "eventTypes": ["job.completed", "job.status_changed"]})
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    listed = (await hooks_api.client.get("/v1/webhooks/endpoints", headers=headers)).json()["items"]
    assert [e["id"] for e in listed] == [created.json()["id"]] and "secret" not in listed[0]

    job = (await hooks_api.client.post("/v1/jobs", json={"prompt": "a fox", "size": "64x64"},
                                       headers=headers)).json()
    await hooks_api.settle()
    await hooks_api.container.use_cases.relay_outbox()(100)  # records deliveries (ADR 0051)
    report = await hooks_api.container.watching.deliver()()  # type: ignore[attr-defined]
    assert report.attempted == report.succeeded >= 2
    types = [json.loads(r.body)["type"] for r in receiver.requests]
    assert types.count("job.completed") == 1 and "job.status_changed" in types
    assert all(verify(secret, r.headers, r.body) for r in receiver.requests)
    assert all(json.loads(r.body)["data"]["jobId"] == job["id"] for r in receiver.requests)

    deliveries = (await hooks_api.client.get("/v1/webhooks/deliveries", headers=headers)).json()["items"]
    assert len(deliveries) == len(receiver.requests)
    assert {d["status"] for d in deliveries} == {"succeeded"}
    completed = next(d for d in deliveries if d["eventType"] == "job.completed")
    attempts = (await hooks_api.client.get(f"/v1/webhooks/deliveries/{completed['id']}/attempts",
                                           headers=headers)).json()
    assert [(a["number"], a["statusCode"], a["succeeded"]) for a in attempts["items"]] == [(1, 204, True)]
    other = await hooks_api.key_for("mallory")
    assert (await hooks_api.client.get(f"/v1/webhooks/deliveries/{completed['id']}/attempts",
                                       headers=other)).status_code == 404


async def test_private_urls_are_refused_and_endpoints_are_deleted_by_their_owner_only(hooks_api: Api) -> None:
    headers = await hooks_api.key_for("bob")
    refused = await hooks_api.client.post("/v1/webhooks/endpoints", headers=headers,
                                          json={"url": "https://192.168.1.10/hook"})
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "url"
    bad_type = await hooks_api.client.post("/v1/webhooks/endpoints", headers=headers,
                                           json={"url": "http://127.0.0.1:9/x", "eventTypes": ["job.exploded"]})
    assert bad_type.status_code == 400 and bad_type.json()["error"]["field"] == "eventTypes"
    created = (await hooks_api.client.post("/v1/webhooks/endpoints", headers=headers,
                                           json={"url": "http://127.0.0.1:9/x"})).json()
    other = await hooks_api.key_for("mallory")
    path = f"/v1/webhooks/endpoints/{created['id']}"
    assert (await hooks_api.client.delete(path, headers=other)).status_code == 404
    assert (await hooks_api.client.delete(path, headers=headers)).status_code == 204
    assert (await hooks_api.client.delete(path, headers=headers)).status_code == 404


async def test_metrics_count_jobs_by_model_and_status_and_readyz_checks_db_and_queue(hooks_api: Api) -> None:
    headers = await hooks_api.key_for("carol", credits=10)
    jobs = [(await hooks_api.client.post("/v1/jobs", json={"prompt": "a fox", "size": "64x64"},
                                         headers=headers)).json() for _ in range(2)]
    await hooks_api.settle()
    done = (await hooks_api.client.get(f"/v1/jobs/{jobs[0]['id']}", headers=headers)).json()
    assert (done["status"], done["etaSeconds"]) == ("completed", 0)
    text = (await hooks_api.client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})).text
    assert 'imagegen_jobs{model="local",status="completed"} 2.0' in text
    assert "imagegen_queue_depth 0.0" in text
    assert "imagegen_credits_captured 2.0" in text
    assert 'imagegen_job_transitions_total{status="completed"} 2.0' in text
    assert 'imagegen_provider_latency_seconds_count{outcome="ok"} 2.0' in text
    ready = await hooks_api.client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "database": "ok", "broker": "ok",
                                                       "models": "not checked yet"})
    await hooks_api.container.adapters.queue().close()
    down = await hooks_api.client.get("/readyz")
    assert down.status_code == 503 and down.json()["broker"].startswith("unavailable")


async def test_readyz_shows_the_catalog_check_without_failing_readiness(hooks_api: Api) -> None:
    from adapters.image_providers.listing import CheckReport, ModelAvailability

    hooks_api.container.core.model_check().report = CheckReport(checked=True, entries=(
        ModelAvailability(model="gpt-image-2", provider="openai", upstream="gpt-image-2",
                          status="missing"),))

    ready = await hooks_api.client.get("/readyz")

    assert (ready.status_code, ready.json()["models"]) == (200, "missing: gpt-image-2")
