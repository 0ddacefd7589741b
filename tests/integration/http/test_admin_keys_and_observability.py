"""The admin key routes, X-Request-Id, the JSON access log and /metrics, over real HTTP."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from entrypoints.logging import configure_logging
from entrypoints.settings import Settings

pytestmark = pytest.mark.integration


async def test_admin_routes_create_list_revoke_and_rotate_keys(api) -> None:
    root = await api.admin_key()
    admin = {"Authorization": f"Bearer {root.secret}"}
    created = await api.client.post("/v1/admin/keys", json={"userId": "zoe", "projectId": "p1",
                                                            "expiresAt": "2999-01-01T00:00:00Z"}, headers=admin)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("ig_") and body["userCreated"] is True and body["state"] == "active"
    zoe = {"Authorization": f"Bearer {body['secret']}"}
    assert (await api.client.get("/v1/credits", headers=zoe)).json()["available"] == 100  # starter

    listed = (await api.client.get("/v1/admin/keys", params={"userId": "zoe"}, headers=admin)).json()
    assert [k["id"] for k in listed["items"]] == [body["id"]]
    assert "secret" not in listed["items"][0] and listed["items"][0]["lastUsedAt"]

    rotated = await api.client.post(f"/v1/admin/keys/{body['id']}/rotate", headers=admin)
    assert rotated.status_code == 201 and rotated.json()["projectId"] == "p1"
    assert (await api.client.get("/v1/credits", headers=zoe)).status_code == 401  # old key, at once
    new = {"Authorization": f"Bearer {rotated.json()['secret']}"}
    assert (await api.client.get("/v1/credits", headers=new)).status_code == 200

    revoked = await api.client.post(f"/v1/admin/keys/{rotated.json()['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    refused = await api.client.get("/v1/credits", headers=new)
    assert refused.status_code == 401 and refused.json()["error"]["message"] == "API key revoked"

    promoted = await api.client.post("/v1/admin/keys", json={"userId": "zoe", "admin": True}, headers=admin)
    assert promoted.json()["promoted"] is True


async def test_admin_key_routes_refuse_non_admins_and_bad_input(api) -> None:
    alice = await api.key_for("alice")
    assert (await api.client.get("/v1/admin/keys", headers=alice)).status_code == 403
    root = {"Authorization": f"Bearer {(await api.admin_key()).secret}"}
    bad = await api.client.post("/v1/admin/keys", json={"userId": ""}, headers=root)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "user"
    missing = await api.client.post("/v1/admin/keys/key_nope/revoke", headers=root)
    assert missing.status_code == 404


async def test_every_answer_carries_a_request_id_which_error_bodies_repeat(api) -> None:
    given = await api.client.get("/healthz", headers={"X-Request-Id": "req-abc.123"})
    assert given.headers["x-request-id"] == "req-abc.123"
    made = await api.client.get("/v1/credits")  # 401
    rid = made.headers["x-request-id"]
    assert len(rid) == 32 and made.json()["error"]["requestId"] == rid
    unrouted = await api.client.get("/nowhere", headers={"X-Request-Id": "r1"})
    assert unrouted.status_code == 404 and unrouted.headers["x-request-id"] == "r1"
    assert unrouted.json()["error"]["requestId"] == "r1"
    hostile = await api.client.get("/healthz", headers={"X-Request-Id": "a b\"<script>"})
    assert hostile.headers["x-request-id"] != "a b\"<script>"  # not echoed; a fresh id instead


async def test_error_bodies_carry_no_null_fields(api) -> None:
    r = await api.client.get("/v1/credits")
    assert r.status_code == 401
    def walk(value):  # noqa: E306
        if isinstance(value, dict):
            for v in value.values():
                yield from walk(v)
        yield value
    assert None not in list(walk(r.json()))
    assert set(r.json()["error"]) == {"type", "message", "field", "reason", "requestId"}


async def test_access_log_lines_are_json_with_the_request_id_and_stdlib_loggers_too(tmp_path: Path) -> None:
    from tests.integration.http.conftest import running_api

    stream = io.StringIO()
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path), "IMAGEGEN_LOG_FORMAT": "json"},
                                 public_base_url="http://testserver.local")
    configure_logging(settings, stream=stream)
    try:
        async with running_api(settings) as api:
            headers = await api.key_for("logan", credits=5)
            await api.client.post("/v1/jobs", json={"prompt": "p", "size": "32x32"},
                                  headers={**headers, "X-Request-Id": "trace-1"})
            logging.getLogger("uvicorn.error").warning("from uvicorn")
            logging.getLogger("alembic.runtime.migration").warning("from alembic")
            logging.getLogger("dramatiq.worker").warning("from dramatiq")
            logging.getLogger("sqlalchemy.engine").warning("from sqlalchemy")
    finally:
        configure_logging(Settings.from_env({"IMAGEGEN_HOME": str(tmp_path)}))
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]  # all JSON
    access = [l for l in lines if l.get("event") == "http.request" and l.get("request_id") == "trace-1"]
    assert access and access[0]["route"] == "/v1/jobs" and access[0]["status"] == 201
    assert access[0]["method"] == "POST" and access[0]["duration_ms"] >= 0
    assert access[0]["user_id"] == "logan"  # bound by auth, seen by the access line
    foreign = {l["event"]: l["logger"] for l in lines if l["event"].startswith("from ")}
    assert foreign == {"from uvicorn": "uvicorn.error", "from alembic": "alembic.runtime.migration",
                       "from dramatiq": "dramatiq.worker", "from sqlalchemy": "sqlalchemy.engine"}


async def test_metrics_parse_with_prometheus_and_count_requests_per_route(tmp_path: Path) -> None:
    from tests.integration.http.request_helpers import api_with

    async with api_with(tmp_path, metrics_token="t") as api:
        headers = await api.key_for("mia", credits=5)
        for _ in range(3):
            await api.client.get("/v1/credits", headers=headers)
        await api.client.get("/v1/jobs/job_missing", headers=headers)
        r = await api.client.get("/metrics", headers={"Authorization": "Bearer t"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"  # one charset
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    requests = {(s.labels["route"], s.labels["status"]): s.value
                for s in families["imagegen_http_requests"].samples if s.name.endswith("_total")}
    assert requests[("/v1/credits", "200")] == 3
    assert requests[("/v1/jobs/{job_id}", "404")] == 1  # the template, not the raw path
    assert "imagegen_http_request_duration_seconds" in families


async def test_queue_and_reservation_age_gauges_follow_the_oldest_waiting_job(tmp_path: Path) -> None:
    from tests.integration.http.request_helpers import api_with

    async with api_with(tmp_path, metrics_token="t",  # no worker: the job waits
                        metrics_snapshot_ttl_s=0.0) as api:
        empty = (await api.client.get("/metrics", headers={"Authorization": "Bearer t"})).text
        assert samples_of(empty, "imagegen_queue_oldest_age_seconds") == [0.0]
        headers = await api.key_for("q", credits=5)
        await api.client.post("/v1/jobs", json={"prompt": "p", "size": "32x32"}, headers=headers)
        import asyncio

        await asyncio.sleep(0.05)
        text = (await api.client.get("/metrics", headers={"Authorization": "Bearer t"})).text
    assert samples_of(text, "imagegen_queue_oldest_age_seconds")[0] > 0
    assert samples_of(text, "imagegen_reservation_oldest_age_seconds")[0] > 0


def samples_of(text: str, name: str) -> list[float]:
    return [s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]
