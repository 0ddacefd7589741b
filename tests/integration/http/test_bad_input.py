"""Every bad request answers 4xx with a JSON body naming the field, and changes nothing."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


async def assert_nothing_changed(api, headers, available: int) -> None:
    credits = (await api.client.get("/v1/credits", headers=headers)).json()
    assert credits == {"available": available, "reserved": 0, "lifetimeSpent": 0}
    assert (await api.client.get("/v1/jobs", headers=headers)).json()["items"] == []


@pytest.mark.parametrize(("body", "field"), [
    ({"prompt": ""}, "prompt"),
    ({"prompt": "x" * 4001}, "prompt"),
    ({"prompt": "p", "model": "no-such-model"}, "model"),
    ({"prompt": "p", "model": "dall-e-3"}, "model"),  # provider has no key in the embedded default
    ({"prompt": "p", "size": "4096x4096"}, "size"),
    ({"prompt": "p", "size": "huge"}, "size"),
    ({"prompt": "p", "n": 0}, "n"),
    ({"prompt": "p", "n": 11}, "n"),
    ({"prompt": "p", "n": "two"}, "n"),
    ({"prompt": 5}, "prompt"),
    ({"prompt": "p", "colour": "red"}, "body"),
])
async def test_invalid_fields_answer_400_naming_the_field(api, body, field) -> None:
    headers = await api.key_for("alice", credits=10)
    r = await api.client.post("/v1/jobs", json=body, headers=headers)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["field"] == field and error["reason"]
    await assert_nothing_changed(api, headers, 10)


async def test_malformed_json_answers_400(api) -> None:
    headers = await api.key_for("alice", credits=10)
    r = await api.client.post("/v1/jobs", content=b'{"prompt": ', headers={
        **headers, "content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["field"] == "body"
    await assert_nothing_changed(api, headers, 10)


@pytest.mark.parametrize("auth", [None, "Bearer ig_wrong", "Basic abc", "Bearer "])
async def test_missing_or_wrong_api_key_answers_401(api, auth) -> None:
    headers = {"Authorization": auth} if auth else {}
    r = await api.client.post("/v1/jobs", json={"prompt": "p"}, headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["field"] == "Authorization"
    assert r.headers["www-authenticate"] == "Bearer"


async def test_insufficient_credits_answers_402_with_the_balance(api) -> None:
    headers = await api.key_for("alice", credits=3)
    r = await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64", "n": 4}, headers=headers)
    assert r.status_code == 402
    error = r.json()["error"]
    assert error["type"] == "insufficient_credits" and error["required"] == 4
    assert error["balance"] == {"available": 3, "reserved": 0, "lifetimeSpent": 0}
    await assert_nothing_changed(api, headers, 3)


async def test_cancelling_a_finished_job_answers_409(api) -> None:
    headers = await api.key_for("alice", credits=3)
    job_id = (await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"}, headers=headers)).json()["id"]
    await api.settle()
    r = await api.client.post(f"/v1/jobs/{job_id}/cancel", headers=headers)
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "status"
    credits = (await api.client.get("/v1/credits", headers=headers)).json()
    assert credits == {"available": 2, "reserved": 0, "lifetimeSpent": 1}


async def test_bad_list_parameters_answer_400(api) -> None:
    headers = await api.key_for("alice")
    for params, field in (({"status": "weird"}, "status"), ({"limit": 0}, "limit"),
                          ({"cursor": "!!"}, "cursor")):
        r = await api.client.get("/v1/jobs", params=params, headers=headers)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["error"]["field"] == field
