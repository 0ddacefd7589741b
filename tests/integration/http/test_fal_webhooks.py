"""fal end to end on the embedded profile: queue submit, Ed25519-signed webhook, resume.

fal's queue and CDN are answered by respx with the documented shapes; a local key pair stands
in for fal's JWKS (its public `x` is configured, as the JWKS would give it).
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
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from PIL import Image

from adapters.webhooks_in.fal_signature import signed_message
from entrypoints.settings import Settings
from tests.integration.http.conftest import Api, running_api

pytestmark = pytest.mark.integration

FIXTURES = json.loads(
    (Path(__file__).parents[2] / "fixtures" / "providers" / "fal.json").read_text()
)
RID = FIXTURES["submitted"]["body"]["request_id"]
REQUESTS = f"https://queue.fal.run/fal-ai/flux/requests/{RID}"
OUTPUT = FIXTURES["result"]["body"]["images"][0]["url"]
KEY = Ed25519PrivateKey.generate()
CATALOG = """
[[models]]
name = "local"
provider = "local"
credits_per_image = 1

[[models]]
name = "flux-dev"
provider = "fal"
upstream_model = "fal-ai/flux/dev"
credits_per_image = 2
price_micros_per_image = 25000
"""


def jwk_x() -> str:
    raw = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def fal_signed(body: bytes, key: Ed25519PrivateKey = KEY) -> dict[str, str]:
    stamp = str(int(time.time()))
    return {"X-Fal-Webhook-Request-Id": RID, "X-Fal-Webhook-User-Id": "user-1",
            "X-Fal-Webhook-Timestamp": stamp, "content-type": "application/json",
            "X-Fal-Webhook-Signature": key.sign(signed_message(RID, "user-1", stamp, body)).hex()}


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 40), (250, 200, 0)).save(buf, "PNG")
    return buf.getvalue()


def wire(name: str) -> httpx.Response:
    return httpx.Response(FIXTURES[name]["status"], json=FIXTURES[name]["body"])


@pytest.fixture
def fal() -> respx.MockRouter:
    with respx.mock(assert_all_called=False) as router:
        router.post(url__startswith="https://queue.fal.run/fal-ai/flux/dev").mock(
            return_value=wire("submitted"))
        router.get(f"{REQUESTS}/status").mock(return_value=wire("status_completed"))
        router.get(REQUESTS).mock(return_value=wire("result"))
        router.get(OUTPUT).mock(return_value=httpx.Response(200, content=png()))
        yield router


@pytest.fixture
async def api(tmp_path: Path, fal: respx.MockRouter) -> AsyncIterator[Api]:
    catalog = tmp_path / "models.toml"
    catalog.write_text(CATALOG)
    settings = Settings.from_env(
        {"IMAGEGEN_HOME": str(tmp_path / "home"), "IMAGEGEN_MODELS_FILE": str(catalog),
         "IMAGEGEN_FAL_API_KEY": "fal-key", "IMAGEGEN_FAL_WEBHOOK_PUBLIC_KEYS": jwk_x(),
         "IMAGEGEN_IMAGE_FETCH_ALLOW_HOSTS": "v3.fal.media"},
        public_base_url="http://testserver.local")
    async with running_api(settings) as running:
        yield running


async def test_a_signed_fal_completion_finishes_the_job_and_a_forged_one_is_refused(api) -> None:
    headers = await api.key_for("erin", credits=10)
    job_id = (await api.client.post("/v1/jobs", json={"prompt": "p", "model": "flux-dev"},
                                    headers=headers)).json()["id"]
    await api.settle()
    assert (await api.client.get(f"/v1/jobs/{job_id}", headers=headers)).json()["status"] == \
        "awaiting_callback"
    body = json.dumps(FIXTURES["webhook_ok"]).encode()

    forged = await api.client.post("/webhooks/fal", content=body,
                                   headers=fal_signed(body, Ed25519PrivateKey.generate()))
    good = await api.client.post("/webhooks/fal", content=body, headers=fal_signed(body))
    await api.settle()

    assert (forged.status_code, good.status_code) == (401, 200)
    job = (await api.client.get(f"/v1/jobs/{job_id}", headers=headers)).json()
    assert job["status"] == "completed" and job["chargedCredits"] == 2
    assert (await api.client.get("/v1/credits", headers=headers)).json()["available"] == 8
