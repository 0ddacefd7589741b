"""Per-key rate limits (429 + Retry-After), the body size limit (413) and prompt length (400)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.http.request_helpers import api_with

pytestmark = pytest.mark.integration


async def test_a_key_over_its_burst_gets_429_with_retry_after_and_a_json_body(tmp_path: Path) -> None:
    async with api_with(tmp_path, rate_limit_per_minute=6, rate_limit_burst=3) as api:
        alice = await api.key_for("alice", credits=10)
        codes = [(await api.client.get("/v1/credits", headers=alice)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = await api.client.get("/v1/credits", headers=alice)
        assert r.status_code == 429 and r.headers["retry-after"] == "10"
        assert r.json()["error"]["type"] == "rate_limited" and r.json()["error"]["field"] == "Authorization"
        bob = await api.key_for("bob")
        assert (await api.client.get("/v1/credits", headers=bob)).status_code == 200
        assert (await api.client.get("/healthz")).status_code == 200  # only /v1 is limited


async def test_a_rate_limited_post_is_not_remembered_by_its_idempotency_key(tmp_path: Path) -> None:
    async with api_with(tmp_path, rate_limit_per_minute=60, rate_limit_burst=1) as api:
        headers = {**await api.key_for("alice", credits=10), "Idempotency-Key": "k"}
        body = {"prompt": "p", "size": "64x64"}
        assert (await api.client.post("/v1/jobs", json=body, headers=headers)).status_code == 201
        limited = await api.client.post("/v1/jobs", json=body, headers=headers)
        assert limited.status_code == 429 and "idempotent-replayed" not in limited.headers


async def test_a_zero_rate_turns_limits_off(tmp_path: Path) -> None:
    async with api_with(tmp_path, rate_limit_per_minute=0, rate_limit_burst=1) as api:
        headers = await api.key_for("alice")
        codes = {(await api.client.get("/v1/credits", headers=headers)).status_code for _ in range(5)}
        assert codes == {200}


@pytest.mark.parametrize("keyed", [False, True])
async def test_a_body_over_the_configured_limit_is_413_with_a_json_error(tmp_path: Path, keyed: bool) -> None:
    async with api_with(tmp_path, max_body_bytes=2000) as api:
        headers = await api.key_for("alice", credits=10)
        if keyed:
            headers["Idempotency-Key"] = "big"
        big = {"prompt": "x" * 3000, "size": "64x64"}
        r = await api.client.post("/v1/jobs", json=big, headers=headers)
        assert r.status_code == 413, r.text
        assert r.json()["error"]["field"] == "body"
        small = await api.client.post("/v1/jobs", json={"prompt": "x" * 100, "size": "64x64"}, headers=headers)
        assert small.status_code == 201, small.text


async def test_a_prompt_longer_than_the_model_allows_is_400_naming_prompt(api) -> None:
    headers = await api.key_for("alice", credits=10)
    r = await api.client.post("/v1/jobs", json={"prompt": "x" * 100_000, "size": "64x64"}, headers=headers)
    assert r.status_code == 400 and r.json()["error"]["field"] == "prompt"
