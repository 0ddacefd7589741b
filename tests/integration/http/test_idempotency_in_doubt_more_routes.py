"""Issue 8, case 15, beyond `POST /v1/jobs`: after an ambiguous commit (`CommitOutcomeUnknown`,
the COMMIT succeeded and then the connection dropped) a retry with the same key of
`POST /v1/batches`, `/v1/images/generations` or `/v1/images/edits` finds what the first attempt
made (ids derived from the key and the request) and charges once."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.integration.http.request_helpers import api_with
from tests.integration.http.test_idempotency_in_doubt import drop_connection_after_the_first_submit

pytestmark = pytest.mark.integration

BATCH = {"prompts": ["one", "two", "three"], "size": "64x64"}


async def listed(api, headers) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    jobs = (await api.client.get("/v1/jobs", headers=headers)).json()["items"]
    events = (await api.client.get("/v1/credits/events", headers=headers)).json()["items"]
    return [j["id"] for j in jobs], [e["type"] for e in events]


async def test_a_batch_retried_after_an_ambiguous_commit_is_the_committed_batch(tmp_path: Path) -> None:
    async with api_with(tmp_path) as api:
        headers = await api.key_for("alice", credits=10)
        dropped = drop_connection_after_the_first_submit(api)
        keyed = {**headers, "Idempotency-Key": "batch-in-doubt"}
        first = await api.client.post("/v1/batches", json=BATCH, headers=keyed)
        retry = await api.client.post("/v1/batches", json=BATCH, headers=keyed)
        replay = await api.client.post("/v1/batches", json=BATCH, headers=keyed)
        job_ids, events = await listed(api, headers)
        balance = (await api.client.get("/v1/credits", headers=headers)).json()
        batch = (await api.client.get(f"/v1/batches/{retry.json()['id']}", headers=headers)).json()
    assert first.status_code == 503
    assert retry.status_code == 201, retry.text
    assert dropped[0] in [c["id"] for c in retry.json()["jobs"]]  # the children the commit made
    assert replay.status_code == 201 and replay.json()["id"] == retry.json()["id"]
    assert sorted(job_ids) == sorted(c["id"] for c in batch["jobs"]) and len(job_ids) == 3
    assert events.count("credits_reserved") == 3  # one per child, not six
    assert balance["reserved"] == 3 and balance["available"] == 7


async def test_an_sdk_retry_of_a_generation_after_an_ambiguous_commit_charges_once(tmp_path: Path) -> None:
    async with api_with(tmp_path, openai_wait_s=0.2) as api:
        headers = await api.key_for("alice", credits=10)
        dropped = drop_connection_after_the_first_submit(api)
        body = {"prompt": "in doubt", "size": "64x64", "model": "local"}
        first = await api.client.post("/v1/images/generations", json=body,
                                      headers={**headers, "x-stainless-retry-count": "0"})
        retry = await api.client.post("/v1/images/generations", json=body,
                                      headers={**headers, "x-stainless-retry-count": "1"})
        job_ids, events = await listed(api, headers)
    assert first.status_code == 503
    assert retry.headers["x-imagegen-job-id"] == dropped[0]  # 504 here: no worker runs it
    assert job_ids == dropped
    assert events.count("credits_reserved") == 1


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), (0, 0, 255)).save(out, format="PNG")
    return out.getvalue()


async def test_a_keyed_edit_retried_after_an_ambiguous_commit_charges_once(tmp_path: Path) -> None:
    async with api_with(tmp_path, openai_wait_s=0.2) as api:
        headers = await api.key_for("alice", credits=10)
        dropped = drop_connection_after_the_first_submit(api)
        keyed = {**headers, "Idempotency-Key": "edit-in-doubt"}
        image = png()

        async def edit():  # type: ignore[no-untyped-def]
            return await api.client.post("/v1/images/edits", headers=keyed,
                                         files=[("image", ("a.png", image, "image/png"))],
                                         data={"prompt": "make it red", "model": "local"})
        first = await edit()
        retry = await edit()
        job_ids, events = await listed(api, headers)
    assert first.status_code == 503, first.text
    assert retry.headers.get("x-imagegen-job-id") == dropped[0], retry.text
    assert job_ids == dropped
    assert events.count("credits_reserved") == 1
