"""Batches (many prompts / one prompt on many models) and retrying failed or cancelled jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.http.request_helpers import api_with, fail_job

pytestmark = pytest.mark.integration


async def test_a_prompts_batch_reserves_for_every_child_and_completes_with_them(api) -> None:
    headers = await api.key_for("alice", credits=10)
    r = await api.client.post("/v1/batches", json={"prompts": ["a", "b", "c"], "size": "64x64"},
                              headers=headers)
    assert r.status_code == 201, r.text
    batch = r.json()
    assert batch["kind"] == "prompts" and batch["total"] == 3 and batch["status"] == "queued"
    assert [j["prompt"] for j in batch["jobs"]] == ["a", "b", "c"]
    assert batch["balance"] == {"available": 7, "reserved": 3, "lifetimeSpent": 0}
    await api.settle()
    done = (await api.client.get(f"/v1/batches/{batch['id']}", headers=headers)).json()
    assert done["status"] == "completed" and done["progressPercent"] == 100
    assert done["counts"] == {"completed": 3}
    assert (await api.client.get("/v1/credits", headers=headers)).json()["lifetimeSpent"] == 3


async def test_a_compare_batch_runs_one_prompt_on_each_model(api) -> None:
    headers = await api.key_for("alice", credits=10)
    r = await api.client.post("/v1/batches", json={"prompt": "a fox", "models": ["local", "local"],
                                                   "size": "64x64"}, headers=headers)
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "compare" and [j["model"] for j in r.json()["jobs"]] == ["local", "local"]


async def test_a_batch_the_balance_cannot_cover_creates_nothing(api) -> None:
    headers = await api.key_for("alice", credits=2)
    r = await api.client.post("/v1/batches", json={"prompts": ["a", "b", "c"], "size": "64x64"},
                              headers=headers)
    assert r.status_code == 402
    assert r.json()["error"]["field"] == "credits" and r.json()["error"]["required"] == 3
    assert (await api.client.get("/v1/jobs", headers=headers)).json()["items"] == []
    assert (await api.client.get("/v1/credits", headers=headers)).json() == {
        "available": 2, "reserved": 0, "lifetimeSpent": 0}


@pytest.mark.parametrize("body, field", [
    ({"prompts": []}, "prompts"),
    ({"prompts": ["ok", "  "]}, "prompts[1]"),
    ({"prompt": "x", "models": ["local", "nope"]}, "models[1]"),
    ({"prompt": "x", "prompts": ["y"]}, "body"),
    ({"model": "local"}, "body"),
    ({"prompts": ["x"] * 17}, "prompts"),
])
async def test_a_bad_batch_is_400_naming_the_field_and_creates_nothing(api, body: dict, field: str) -> None:
    headers = await api.key_for("alice", credits=100)
    r = await api.client.post("/v1/batches", json={**body, "size": "64x64"}, headers=headers)
    assert r.status_code == 400 and r.json()["error"]["field"] == field, r.text
    assert (await api.client.get("/v1/jobs", headers=headers)).json()["items"] == []


async def test_a_batch_with_failed_and_completed_children_is_partially_failed(tmp_path: Path) -> None:
    async with api_with(tmp_path) as api:
        headers = await api.key_for("alice", credits=10)
        batch = (await api.client.post("/v1/batches", json={"prompts": ["a", "b"], "size": "64x64"},
                                       headers=headers)).json()
        first, second = (j["id"] for j in batch["jobs"])
        await fail_job(api, first)
        view = (await api.client.get(f"/v1/batches/{batch['id']}", headers=headers)).json()
        assert view["status"] == "processing" and view["counts"] == {"failed": 1, "queued": 1}
        await api.client.post(f"/v1/jobs/{second}/cancel", headers=headers)
        view = (await api.client.get(f"/v1/batches/{batch['id']}", headers=headers)).json()
        assert view["status"] == "failed"
        other = await api.key_for("bob")
        missing = await api.client.get(f"/v1/batches/{batch['id']}", headers=other)
        assert missing.status_code == 404 and missing.json()["error"]["field"] == "batchId"


async def test_retrying_a_failed_job_makes_a_new_linked_job_with_a_new_reservation(tmp_path: Path) -> None:
    async with api_with(tmp_path) as api:
        headers = await api.key_for("alice", credits=10)
        job = (await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64", "seed": 7},
                                     headers=headers)).json()
        await fail_job(api, job["id"])
        r = await api.client.post(f"/v1/jobs/{job['id']}/retry", headers=headers)
        assert r.status_code == 201, r.text
        retry = r.json()
        assert retry["id"] != job["id"] and retry["status"] == "queued"
        assert retry["balance"] == {"available": 9, "reserved": 1, "lifetimeSpent": 0}
        events = (await api.client.get("/v1/credits/events", headers=headers)).json()["items"]
        assert [(e["type"], e["jobId"]) for e in events] == [
            ("credits_granted", None), ("credits_reserved", job["id"]),
            ("reservation_released", job["id"]), ("credits_reserved", retry["id"])]
        async with api.container.adapters.uow() as uow:
            stored = (await uow.jobs.get(retry["id"])).state
        assert stored.retry_of_job_id == job["id"] and stored.seed == 7 and stored.prompt == "p"
        shown = (await api.client.get(f"/v1/jobs/{retry['id']}", headers=headers)).json()
        assert shown["retryOfJobId"] == job["id"]


async def test_a_cancelled_job_can_be_retried_but_a_live_one_cannot(tmp_path: Path) -> None:
    async with api_with(tmp_path) as api:
        headers = await api.key_for("alice", credits=10)
        job = (await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"}, headers=headers)).json()
        live = await api.client.post(f"/v1/jobs/{job['id']}/retry", headers=headers)
        assert live.status_code == 409 and live.json()["error"]["field"] == "status"
        await api.client.post(f"/v1/jobs/{job['id']}/cancel", headers=headers)
        assert (await api.client.post(f"/v1/jobs/{job['id']}/retry", headers=headers)).status_code == 201
        bob = await api.key_for("bob", credits=10)
        assert (await api.client.post(f"/v1/jobs/{job['id']}/retry", headers=bob)).status_code == 404


async def test_retrying_without_credits_is_402_and_creates_nothing(tmp_path: Path) -> None:
    async with api_with(tmp_path) as api:
        headers = await api.key_for("alice", credits=1)
        job = (await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"}, headers=headers)).json()
        await fail_job(api, job["id"], capture=1)
        r = await api.client.post(f"/v1/jobs/{job['id']}/retry", headers=headers)
        assert r.status_code == 402
        assert len((await api.client.get("/v1/jobs", headers=headers)).json()["items"]) == 1
