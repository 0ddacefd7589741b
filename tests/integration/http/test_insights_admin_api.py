"""Ledger history, job statistics and the admin endpoints over HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.http.request_helpers import api_with, fail_job

pytestmark = pytest.mark.integration


async def test_the_ledger_history_is_the_callers_own_paged_by_version(api) -> None:
    headers = await api.key_for("alice", credits=10)
    await api.container.use_cases.grant_credits()("bob", 5)
    job = (await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"}, headers=headers)).json()
    await api.settle()
    seen, after = [], 0
    while after is not None:
        page = (await api.client.get("/v1/credits/events", params={"afterVersion": after, "limit": 2},
                                     headers=headers)).json()
        seen += page["items"]
        after = page["nextAfterVersion"]
    assert [e["version"] for e in seen] == [1, 2, 3]
    assert [e["type"] for e in seen] == ["credits_granted", "credits_reserved", "reservation_captured"]
    assert [e["amount"] for e in seen] == [10, 1, 1] and seen[2]["released"] == 0
    assert seen[1]["jobId"] == job["id"] and seen[0]["jobId"] is None
    bad = await api.client.get("/v1/credits/events", params={"limit": 0}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "limit"
    huge = await api.client.get("/v1/credits/events", params={"afterVersion": 2**70}, headers=headers)
    assert huge.status_code == 400  # found by schemathesis: it used to overflow the column (500)
    assert huge.json()["error"]["field"] == "afterVersion"


async def test_stats_give_success_rate_times_credits_and_cost_by_model_and_day(tmp_path: Path) -> None:
    async with api_with(tmp_path, run_worker=True) as api:
        alice = await api.key_for("alice", credits=20)
        for _ in range(3):
            await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"}, headers=alice)
        await api.settle()
        bob = await api.key_for("bob", credits=5)
        await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"}, headers=bob)
        await api.settle()
        stats = (await api.client.get("/v1/stats", headers=alice)).json()
        assert stats["scope"] == "alice"
        [row] = stats["byModel"]
        assert row["model"] == "local" and row["completed"] == 3 and row["failed"] == 0
        assert row["successRate"] == 1.0 and row["creditsSpent"] == 3
        assert row["p50Ms"] is not None and row["p95Ms"] >= row["p50Ms"] >= 0
        [day] = stats["byDay"]
        assert day["completed"] == 3 and len(day["day"]) == 10
        forbidden = await api.client.get("/v1/stats", params={"all": "true"}, headers=alice)
        assert forbidden.status_code == 403 and forbidden.json()["error"]["field"] == "Authorization"
        admin = await api.admin_key("root")
        everyone = (await api.client.get("/v1/stats", params={"all": "true"},
                                         headers={"Authorization": f"Bearer {admin.secret}"})).json()
        assert everyone["scope"] == "all" and everyone["byModel"][0]["completed"] == 4


async def test_failed_jobs_lower_the_success_rate(tmp_path: Path) -> None:
    async with api_with(tmp_path) as api:
        headers = await api.key_for("alice", credits=10)
        for _ in range(2):
            job = (await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"},
                                         headers=headers)).json()
            await fail_job(api, job["id"])
        cancelled = (await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"},
                                           headers=headers)).json()
        await api.client.post(f"/v1/jobs/{cancelled['id']}/cancel", headers=headers)
        [row] = (await api.client.get("/v1/stats", headers=headers)).json()["byModel"]
        assert (row["completed"], row["failed"], row["cancelled"]) == (0, 2, 1)
        assert row["successRate"] == 0.0 and row["p50Ms"] is None
        bad = await api.client.get("/v1/stats", params={"days": 0}, headers=headers)
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "days"


async def test_admin_endpoints_grant_change_plans_and_list_balances(api) -> None:
    root = await api.admin_key("root")
    admin = {"Authorization": f"Bearer {root.secret}"}
    alice = await api.key_for("alice", credits=3)
    await api.key_for("bob")
    r = await api.client.post("/v1/admin/credits/grant", json={"userId": "alice", "amount": 7}, headers=admin)
    assert r.status_code == 200 and r.json()["available"] == 10
    assert (await api.client.get("/v1/credits", headers=alice)).json()["available"] == 10
    r = await api.client.put("/v1/admin/users/alice/plan", json={"plan": "pro"}, headers=admin)
    assert r.status_code == 200 and r.json() == {"id": "alice", "plan": "pro", "isAdmin": False}
    await api.client.post("/v1/admin/credits/grant", json={"userId": "bob", "amount": 1}, headers=admin)
    page = (await api.client.get("/v1/admin/balances", params={"limit": 1}, headers=admin)).json()
    assert [b["userId"] for b in page["items"]] == ["alice"] and page["nextCursor"] == "alice"
    rest = (await api.client.get("/v1/admin/balances", params={"cursor": "alice"}, headers=admin)).json()
    assert [(b["userId"], b["available"]) for b in rest["items"]] == [("bob", 1)]
    assert rest["nextCursor"] is None


@pytest.mark.parametrize("method, path, body, status, field", [
    ("post", "/v1/admin/credits/grant", {"userId": "nobody", "amount": 5}, 404, "userId"),
    ("post", "/v1/admin/credits/grant", {"userId": "alice", "amount": 0}, 400, "amount"),
    ("put", "/v1/admin/users/alice/plan", {"plan": "platinum"}, 400, "plan"),
    ("put", "/v1/admin/users/nobody/plan", {"plan": "pro"}, 404, "userId"),
])
async def test_bad_admin_requests_name_the_field(api, method: str, path: str, body: dict, status: int,
                                                 field: str) -> None:
    root = await api.admin_key("root")
    await api.key_for("alice")
    r = await getattr(api.client, method)(path, json=body, headers={"Authorization": f"Bearer {root.secret}"})
    assert r.status_code == status and r.json()["error"]["field"] == field, r.text


@pytest.mark.parametrize("method, path, body", [
    ("post", "/v1/admin/credits/grant", {"userId": "alice", "amount": 5}),
    ("put", "/v1/admin/users/alice/plan", {"plan": "pro"}),
    ("get", "/v1/admin/balances", None),
])
async def test_a_non_admin_key_gets_403_and_changes_nothing(api, method: str, path: str, body) -> None:
    alice = await api.key_for("alice", credits=1)
    kwargs = {"json": body} if body is not None else {}
    r = await getattr(api.client, method)(path, headers=alice, **kwargs)
    assert r.status_code == 403 and r.json()["error"]["field"] == "Authorization"
    assert (await api.client.get("/v1/credits", headers=alice)).json()["available"] == 1
