"""Replicate end to end on the embedded profile: submit, park, signed webhook, poller, cancel.

Replicate's API and its output CDN are answered by respx with the documented shapes; the
webhook is signed with a `whsec_` secret exactly as Replicate signs (Standard Webhooks).
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import respx
from PIL import Image
from structlog.testing import capture_logs

from adapters.webhooks_in.standard_webhooks import decode_secret, sign
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.periodic import reconcile_awaiting_jobs
from entrypoints.settings import Settings
from entrypoints.webhooks import create_webhooks_app
from tests.integration.http.conftest import Api, running_api

pytestmark = pytest.mark.integration

API = "https://api.replicate.com/v1"
CREATE = f"{API}/predictions"  # a community model: created by its pinned version
OUTPUT = "https://replicate.delivery/xezq/abc123/out-0.png"
SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
FIXTURES = json.loads(
    (Path(__file__).parents[2] / "fixtures" / "providers" / "replicate.json").read_text()
)
PRED_ID = FIXTURES["prediction_created"]["body"]["id"]

CATALOG = """
[[models]]
name = "local"
provider = "local"
credits_per_image = 1

[[models]]
name = "sdxl"
provider = "replicate"
upstream_model = "stability-ai/sdxl"
upstream_version = "39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b"
credits_per_image = 3
max_n = 4
price_micros_per_image = 4000
"""


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 32), (10, 120, 200)).save(buf, "PNG")
    return buf.getvalue()


def prediction(name: str) -> dict:  # type: ignore[type-arg]
    return dict(FIXTURES[name]["body"])


def signed(body: bytes, msg_id: str = "msg_2kXcZ0m1", secret: str = SECRET) -> dict[str, str]:
    ts = int(time.time())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(decode_secret(secret), msg_id, ts, body),
        "content-type": "application/json",
    }


class Replicate:
    """The respx routes standing in for Replicate and its CDN."""

    def __init__(self, router: respx.MockRouter) -> None:
        self.create = router.post(CREATE).mock(
            return_value=httpx.Response(201, json=prediction("prediction_created"))
        )
        self.get = router.get(f"{API}/predictions/{PRED_ID}").mock(
            return_value=httpx.Response(200, json=prediction("prediction_succeeded"))
        )
        self.cancel = router.post(f"{API}/predictions/{PRED_ID}/cancel").mock(
            return_value=httpx.Response(200, json=prediction("prediction_canceled"))
        )
        self.output = router.get(OUTPUT).mock(
            return_value=httpx.Response(200, content=png(), headers={"content-type": "image/png"})
        )


def settings_for(tmp_path: Path) -> Settings:
    catalog = tmp_path / "models.toml"
    catalog.write_text(CATALOG)
    return Settings.from_env(
        {
            "IMAGEGEN_HOME": str(tmp_path / "home"),
            "IMAGEGEN_MODELS_FILE": str(catalog),
            "IMAGEGEN_REPLICATE_API_TOKEN": "r8_test_SECRET",
            "IMAGEGEN_REPLICATE_WEBHOOK_SECRETS": SECRET,
            "IMAGEGEN_IMAGE_FETCH_ALLOW_HOSTS": "replicate.delivery",
            "IMAGEGEN_AWAITING_RECONCILE_AFTER_S": "0",
        },
        public_base_url="http://testserver.local",
    )


@pytest.fixture
def replicate() -> respx.MockRouter:
    with respx.mock(assert_all_called=False) as router:
        yield Replicate(router)


@pytest.fixture
async def api(tmp_path: Path, replicate: Replicate) -> AsyncIterator[Api]:
    async with running_api(settings_for(tmp_path)) as running:
        yield running


async def parked_job(api: Api, headers: dict[str, str]) -> str:
    r = await api.client.post(
        "/v1/jobs", json={"prompt": "a lighthouse at dusk", "model": "sdxl"}, headers=headers
    )
    assert r.status_code == 201, r.text
    await api.settle()
    job = (await api.client.get(f"/v1/jobs/{r.json()['id']}", headers=headers)).json()
    assert job["status"] == "awaiting_callback", job
    return job["id"]


async def captures(api: Api, user: str) -> int:
    async with api.container.adapters.uow() as uow:
        return sum(
            1 for e in await uow.ledgers.events(user) if type(e).__name__ == "ReservationCaptured"
        )


async def test_a_signed_completion_finishes_the_parked_job_and_charges_once(api, replicate) -> None:
    headers = await api.key_for("alice", credits=20)
    job_id = await parked_job(api, headers)
    sent = json.loads(replicate.create.calls.last.request.content)
    assert sent["webhook"] == "http://testserver.local/webhooks/replicate"

    body = json.dumps(prediction("prediction_succeeded")).encode()
    first = await api.client.post("/webhooks/replicate", content=body, headers=signed(body))
    await api.settle()

    assert first.status_code == 200 and first.json() == {"outcome": "resuming", "jobId": job_id}
    job = (await api.client.get(f"/v1/jobs/{job_id}", headers=headers)).json()
    assert job["status"] == "completed" and job["chargedCredits"] == 3 and len(job["images"]) == 1
    assert replicate.output.call_count == 1
    assert (await api.client.get("/v1/credits", headers=headers)).json() == {
        "available": 17,
        "reserved": 0,
        "lifetimeSpent": 3,
    }

    replay = await api.client.post("/webhooks/replicate", content=body, headers=signed(body))
    await api.settle()

    assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"
    assert await captures(api, "alice") == 1
    assert replicate.get.call_count == 1 and replicate.output.call_count == 1


async def test_a_bad_signature_is_401_and_changes_nothing(api, replicate) -> None:
    headers = await api.key_for("alice", credits=20)
    job_id = await parked_job(api, headers)
    body = json.dumps(prediction("prediction_succeeded")).encode()
    forged = signed(body, secret="whsec_" + base64.b64encode(b"x" * 32).decode())

    r = await api.client.post("/webhooks/replicate", content=body, headers=forged)
    await api.settle()

    assert r.status_code == 401
    assert (await api.client.get(f"/v1/jobs/{job_id}", headers=headers)).json()[
        "status"
    ] == "awaiting_callback"
    assert replicate.get.call_count == 0
    ok = await api.client.post(
        "/webhooks/replicate", content=body, headers=signed(body, msg_id="msg_forged")
    )
    assert ok.json()["outcome"] == "resuming"  # the forged attempt recorded nothing


@pytest.mark.parametrize(
    "change",
    [
        {"webhook-signature": "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
        {"webhook-timestamp": "not-a-number"},
        {"webhook-id": ""},
    ],
)
async def test_a_malformed_header_is_400_never_500(api, change) -> None:
    body = json.dumps(prediction("prediction_succeeded")).encode()
    r = await api.client.post(
        "/webhooks/replicate", content=body, headers={**signed(body), **change}
    )
    assert r.status_code == 400, r.text


async def test_a_signed_body_that_is_not_a_prediction_is_400(api) -> None:
    body = b'{"hello": "world"}'
    r = await api.client.post("/webhooks/replicate", content=body, headers=signed(body))
    assert r.status_code == 400


async def test_an_unknown_prediction_is_acknowledged_and_logged(api) -> None:
    body = json.dumps({**prediction("prediction_succeeded"), "id": "pred_nobody_knows"}).encode()
    with capture_logs() as logs:
        r = await api.client.post("/webhooks/replicate", content=body, headers=signed(body))
    assert r.status_code == 200 and r.json() == {"outcome": "unknown_job", "jobId": None}
    assert any(
        e["event"] == "webhook.unknown_job" and e["provider_job_id"] == "pred_nobody_knows"
        for e in logs
    )


async def test_a_provider_without_a_receiver_is_404(api) -> None:
    r = await api.client.post(
        "/webhooks/fal", content=b"{}", headers={"content-type": "application/json"}
    )
    assert r.status_code == 404


async def test_the_poller_completes_a_job_whose_webhook_never_came(api, replicate) -> None:
    headers = await api.key_for("bob", credits=20)
    job_id = await parked_job(api, headers)

    assert await reconcile_awaiting_jobs(api.container) == 1
    await api.settle()

    job = (await api.client.get(f"/v1/jobs/{job_id}", headers=headers)).json()
    assert job["status"] == "completed" and replicate.get.call_count == 1
    assert await captures(api, "bob") == 1


async def test_the_poller_leaves_a_still_running_prediction_waiting(api, replicate) -> None:
    headers = await api.key_for("bob", credits=20)
    job_id = await parked_job(api, headers)
    replicate.get.mock(return_value=httpx.Response(200, json=prediction("prediction_processing")))

    await reconcile_awaiting_jobs(api.container)
    await api.settle()

    assert (await api.client.get(f"/v1/jobs/{job_id}", headers=headers)).json()[
        "status"
    ] == "awaiting_callback"


async def test_cancelling_a_parked_job_cancels_the_prediction_and_releases_credits(
    api, replicate
) -> None:
    headers = await api.key_for("carol", credits=20)
    job_id = await parked_job(api, headers)

    r = await api.client.post(f"/v1/jobs/{job_id}/cancel", headers=headers)

    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert replicate.cancel.call_count == 1
    assert replicate.cancel.calls.last.request.headers["authorization"] == "Bearer r8_test_SECRET"
    assert (await api.client.get("/v1/credits", headers=headers)).json() == {
        "available": 20,
        "reserved": 0,
        "lifetimeSpent": 0,
    }
    body = json.dumps(prediction("prediction_canceled")).encode()
    late = await api.client.post("/webhooks/replicate", content=body, headers=signed(body))
    assert late.json()["outcome"] == "ignored"


async def test_the_standalone_receiver_verifies_and_resumes_like_the_api(
    tmp_path, replicate
) -> None:
    container = build_container(settings_for(tmp_path))
    await container.start(run_worker=True)
    try:
        api_app = create_app(container=container, manage_container=False)
        hooks_app = create_webhooks_app(container=container, manage_container=False)
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=api_app), base_url="http://testserver.local"
            ) as client,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=hooks_app), base_url="http://hooks.local"
            ) as hooks,
        ):
            api = Api(client, container)
            headers = await api.key_for("dave", credits=20)
            job_id = await parked_job(api, headers)
            body = json.dumps(prediction("prediction_succeeded")).encode()
            bad = await hooks.post(
                "/webhooks/replicate",
                content=body,
                headers=signed(body, secret=SECRET[:-4] + "AAA="),
            )
            good = await hooks.post("/webhooks/replicate", content=body, headers=signed(body))
            await api.settle()
            assert (bad.status_code, good.status_code) == (401, 200)
            assert (await hooks.get("/healthz")).status_code == 200
            assert (await client.get(f"/v1/jobs/{job_id}", headers=headers)).json()[
                "status"
            ] == "completed"
    finally:
        await container.close()
