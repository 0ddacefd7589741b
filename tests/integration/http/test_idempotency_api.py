"""Idempotency-Key on POST over HTTP: replay, mismatch (422), in progress (409), no double charge."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from domain.idempotency import IdempotencyRecord, fingerprint
from entrypoints.http.request_features import features_of

pytestmark = pytest.mark.integration

JOB = {"prompt": "a lighthouse", "size": "64x64"}


async def _jobs(api, headers) -> list[dict]:
    return (await api.client.get("/v1/jobs", headers=headers)).json()["items"]


async def _reservations(api, headers) -> list[dict]:
    events = (await api.client.get("/v1/credits/events", headers=headers)).json()["items"]
    return [e for e in events if e["type"] == "credits_reserved"]


async def test_repeating_a_post_with_the_same_key_replays_the_first_answer_and_charges_once(api) -> None:
    headers = await api.key_for("alice", credits=10)
    keyed = {**headers, "Idempotency-Key": "order-1"}
    first = await api.client.post("/v1/jobs", json=JOB, headers=keyed)
    second = await api.client.post("/v1/jobs", json=JOB, headers=keyed)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert [j["id"] for j in await _jobs(api, headers)] == [first.json()["id"]]
    assert len(await _reservations(api, headers)) == 1
    assert (await api.client.get("/v1/credits", headers=headers)).json()["available"] == 9


async def test_concurrent_posts_with_one_key_create_one_job_and_one_reservation(api) -> None:
    headers = await api.key_for("alice", credits=10)
    keyed = {**headers, "Idempotency-Key": "burst"}
    answers = await asyncio.gather(*(api.client.post("/v1/jobs", json=JOB, headers=keyed) for _ in range(8)))
    codes = [a.status_code for a in answers]
    assert set(codes) <= {201, 409} and codes.count(201) >= 1, codes
    created = {a.json()["id"] for a in answers if a.status_code == 201}
    assert len(created) == 1
    for conflict in (a for a in answers if a.status_code == 409):
        assert conflict.json()["error"]["field"] == "Idempotency-Key"
        assert conflict.headers["retry-after"] == "1"
    assert [j["id"] for j in await _jobs(api, headers)] == list(created)
    assert len(await _reservations(api, headers)) == 1


async def test_the_same_key_with_another_body_is_422_naming_the_header(api) -> None:
    headers = {**await api.key_for("alice", credits=10), "Idempotency-Key": "k1"}
    assert (await api.client.post("/v1/jobs", json=JOB, headers=headers)).status_code == 201
    other = await api.client.post("/v1/jobs", json={**JOB, "prompt": "a barn"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["error"]["field"] == "Idempotency-Key"
    assert other.json()["error"]["type"] == "idempotency_error"
    elsewhere = await api.client.post("/v1/batches", json={"prompts": ["x"]}, headers=headers)
    assert elsewhere.status_code == 422  # another path is another request


async def test_a_rejected_request_is_replayed_as_rejected_even_after_the_cause_is_gone(api) -> None:
    headers = await api.key_for("alice")
    keyed = {**headers, "Idempotency-Key": "poor"}
    first = await api.client.post("/v1/jobs", json=JOB, headers=keyed)
    assert first.status_code == 402
    await api.container.use_cases.grant_credits()("alice", 10)
    again = await api.client.post("/v1/jobs", json=JOB, headers=keyed)
    assert again.status_code == 402 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    fresh = await api.client.post("/v1/jobs", json=JOB, headers={**headers, "Idempotency-Key": "rich"})
    assert fresh.status_code == 201


async def test_keys_are_scoped_per_api_key_and_requests_without_one_are_not_deduplicated(api) -> None:
    first_key = await api.key_for("alice", credits=10)
    second_key = await api.key_for("alice")
    for headers in (first_key, second_key):
        r = await api.client.post("/v1/jobs", json=JOB, headers={**headers, "Idempotency-Key": "same"})
        assert r.status_code == 201 and "idempotent-replayed" not in r.headers
    await api.client.post("/v1/jobs", json=JOB, headers=first_key)
    await api.client.post("/v1/jobs", json=JOB, headers=first_key)
    assert len(await _jobs(api, first_key)) == 4


async def test_a_key_still_in_progress_answers_409_and_an_expired_one_starts_afresh(api) -> None:
    headers = await api.key_for("alice", credits=10)
    principal = await api.container.use_cases.authenticate()(headers["Authorization"].split()[1])
    store = features_of(api.container).idempotency_store()
    clock = api.container.core.clock()
    body = b'{"prompt":"a lighthouse","size":"64x64"}'
    running = IdempotencyRecord(api_key_id=principal.key_id, key="busy", created_at=clock.now(),
                                fingerprint=fingerprint("POST", "/v1/jobs", body))
    assert await store.begin(running, clock.now()) is None
    r = await api.client.post("/v1/jobs", content=body, headers={**headers, "Idempotency-Key": "busy",
                                                                 "Content-Type": "application/json"})
    assert r.status_code == 409 and r.json()["error"]["type"] == "idempotency_key_in_use"
    old = clock.now() - timedelta(hours=25)
    stale = IdempotencyRecord(api_key_id=principal.key_id, key="stale", created_at=old, fingerprint="x")
    assert await store.begin(stale, old) is None
    r = await api.client.post("/v1/jobs", json=JOB, headers={**headers, "Idempotency-Key": "stale"})
    assert r.status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256])
async def test_an_unusable_key_is_400_naming_the_header(api, key: str) -> None:
    headers = {**await api.key_for("alice", credits=10), "Idempotency-Key": key}
    r = await api.client.post("/v1/jobs", json=JOB, headers=headers)
    assert r.status_code == 400 and r.json()["error"]["field"] == "Idempotency-Key"
    assert await _jobs(api, headers) == []


async def test_a_key_on_a_request_without_credentials_is_simply_401(api) -> None:
    r = await api.client.post("/v1/jobs", json=JOB, headers={"Idempotency-Key": "k"})
    assert r.status_code == 401 and r.json()["error"]["field"] == "Authorization"
