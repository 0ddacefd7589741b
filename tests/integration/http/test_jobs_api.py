"""POST/GET /v1/jobs, cancel, credits and images over HTTP on the embedded profile."""

from __future__ import annotations

import io

import pytest
from PIL import Image

pytestmark = pytest.mark.integration


async def test_submitting_a_job_answers_201_with_the_estimate_and_balance(api) -> None:
    headers = await api.key_for("alice", credits=10)
    r = await api.client.post("/v1/jobs", json={"prompt": "a lighthouse", "size": "256x256", "n": 2},
                              headers=headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "queued" and body["estimatedCredits"] == 2
    assert body["balance"] == {"available": 8, "reserved": 2, "lifetimeSpent": 0}
    await api.settle()
    job = (await api.client.get(f"/v1/jobs/{body['id']}", headers=headers)).json()
    assert job["status"] == "completed"
    assert job["progress"] == {"percent": 100, "step": "Done"}
    assert job["chargedCredits"] == 2 and len(job["images"]) == 2
    credits = (await api.client.get("/v1/credits", headers=headers)).json()
    assert credits == {"available": 8, "reserved": 0, "lifetimeSpent": 2}


async def test_an_image_is_served_through_its_signed_url_only(api) -> None:
    headers = await api.key_for("alice", credits=10)
    job_id = (await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x32"}, headers=headers)).json()["id"]
    await api.settle()
    image_id = (await api.client.get(f"/v1/jobs/{job_id}", headers=headers)).json()["images"][0]["id"]
    meta = (await api.client.get(f"/v1/images/{image_id}", headers=headers)).json()
    assert meta["width"] == 64 and meta["expiresIn"] == 3600
    url = meta["url"].removeprefix("http://testserver.local")
    r = await api.client.get(url)
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (64, 32)
    assert (await api.client.get(url.replace("sig=", "sig=0"))).status_code == 401
    other = await api.key_for("bob")
    assert (await api.client.get(f"/v1/images/{image_id}", headers=other)).status_code == 404


async def test_another_users_job_answers_404(api) -> None:
    alice = await api.key_for("alice", credits=10)
    bob = await api.key_for("bob", credits=10)
    job_id = (await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"}, headers=alice)).json()["id"]
    assert (await api.client.get(f"/v1/jobs/{job_id}", headers=bob)).status_code == 404
    assert (await api.client.post(f"/v1/jobs/{job_id}/cancel", headers=bob)).status_code == 404
    assert (await api.client.get("/v1/jobs", headers=bob)).json()["items"] == []


async def test_list_is_paginated_newest_first_and_filters_by_status(api) -> None:
    headers = await api.key_for("alice", credits=50)
    ids = []
    for i in range(5):
        r = await api.client.post("/v1/jobs", json={"prompt": f"p{i}", "size": "32x32"}, headers=headers)
        ids.append(r.json()["id"])
    await api.settle()
    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.client.get("/v1/jobs", params=params, headers=headers)).json()
        seen += [j["id"] for j in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    failed = (await api.client.get("/v1/jobs", params={"status": "failed"}, headers=headers)).json()
    assert failed["items"] == []


async def test_openapi_schema_lists_the_endpoints(api) -> None:
    schema = (await api.client.get("/schema/openapi.json")).json()
    for path in ("/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/cancel", "/v1/credits",
                 "/v1/images/{image_id}", "/healthz"):
        assert path in schema["paths"], path
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    submit = schema["paths"]["/v1/jobs"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in submit["parameters"]]
    assert {"401", "402", "409", "422", "429"} <= set(submit["responses"])
    assert "Retry-After" in submit["responses"]["429"]["headers"]
