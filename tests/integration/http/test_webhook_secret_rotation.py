"""Rotating a client webhook's signing secret: both secrets verify during the overlap."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from entrypoints.settings import Settings
from tests.integration.http.conftest import Api, running_api
from tests.integration.webhooks_out.receiver import Receiver, running_receiver

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as r:
        yield r


async def _api(tmp_path: Path, overlap_s: str) -> AsyncIterator[Api]:
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path / "home"),
                                  "IMAGEGEN_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
                                  "IMAGEGEN_WEBHOOK_SECRET_OVERLAP_S": overlap_s},
                                 public_base_url="http://testserver.local")
    async with running_api(settings) as running:
        yield running


def verifies(secret: str, request) -> bool:  # type: ignore[no-untyped-def]
    """The `standardwebhooks` library's own check (signature and timestamp)."""
    try:
        Webhook(secret).verify(request.body, dict(request.headers))
    except WebhookVerificationError:
        return False
    return True


async def _deliver_one(api: Api, headers: dict[str, str], receiver: Receiver) -> object:
    before = len(receiver.requests)
    await api.client.post("/v1/jobs", json={"prompt": "a fox", "size": "32x32"}, headers=headers)
    await api.settle()
    await api.container.use_cases.relay_outbox()(100)  # records deliveries (ADR 0051)
    await api.container.watching.deliver()()  # type: ignore[attr-defined]
    assert len(receiver.requests) > before
    return receiver.requests[-1]


async def test_after_a_rotation_both_secrets_verify_until_the_overlap_ends(tmp_path: Path, receiver) -> None:
    async for api in _api(tmp_path, "3600"):
        headers = await api.key_for("alice", credits=10)
        created = (await api.client.post("/v1/webhooks/endpoints", headers=headers, json={
            "url": receiver.url, "eventTypes": ["job.completed"]})).json()
        old = created["secret"]
        rotated = await api.client.post(f"/v1/webhooks/endpoints/{created['id']}/rotate-secret", headers=headers)
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        assert new != old and new.startswith("whsec_")
        until = datetime.fromisoformat(rotated.json()["previousSecretExpiresAt"])
        assert 3500 < (until - api.container.core.clock().now()).total_seconds() <= 3600

        request = await _deliver_one(api, headers, receiver)
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        assert verifies(old, request) and verifies(new, request)
        assert json.loads(request.body)["type"] == "job.completed"

        other = await api.key_for("mallory")
        refused = await api.client.post(f"/v1/webhooks/endpoints/{created['id']}/rotate-secret", headers=other)
        assert refused.status_code == 404


async def test_once_the_overlap_is_over_only_the_new_secret_signs(tmp_path: Path, receiver) -> None:
    async for api in _api(tmp_path, "0"):
        headers = await api.key_for("bob", credits=10)
        created = (await api.client.post("/v1/webhooks/endpoints", headers=headers, json={
            "url": receiver.url, "eventTypes": ["job.completed"]})).json()
        new = (await api.client.post(f"/v1/webhooks/endpoints/{created['id']}/rotate-secret",
                                     headers=headers)).json()["secret"]
        request = await _deliver_one(api, headers, receiver)
        assert verifies(new, request) and not verifies(created["secret"], request)
