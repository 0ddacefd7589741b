"""fal's Ed25519 webhook signature; a local key pair stands in for fal's JWKS."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from adapters.clock import FakeClock
from adapters.webhooks_in.fal_signature import FalWebhookVerifier, signed_message
from application.errors import WebhookRejected

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
BODY = b'{"request_id":"req-1","status":"OK","payload":{"images":[]},"error":null}'


def jwk_x(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def fal_headers(
    key: Ed25519PrivateKey, body: bytes = BODY, ts: int | None = None, request_id: str = "req-1"
) -> dict[str, str]:
    stamp = str(int(NOW.timestamp()) if ts is None else ts)
    signature = key.sign(signed_message(request_id, "user-9", stamp, body)).hex()
    return {
        "X-Fal-Webhook-Request-Id": request_id,
        "X-Fal-Webhook-User-Id": "user-9",
        "X-Fal-Webhook-Timestamp": stamp,
        "X-Fal-Webhook-Signature": signature,
    }


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_the_signed_message_is_the_newline_joined_ids_timestamp_and_body_digest() -> None:
    assert (
        signed_message("r", "u", "17", b"{}")
        == f"r\nu\n17\n{hashlib.sha256(b'{}').hexdigest()}".encode()
    )


def test_a_delivery_signed_by_a_configured_key_verifies(key: Ed25519PrivateKey) -> None:
    verifier = FalWebhookVerifier([jwk_x(key)], FakeClock(NOW))
    assert verifier.verify(fal_headers(key), BODY) == "req-1"


def test_any_configured_key_may_verify(key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    verifier = FalWebhookVerifier([jwk_x(other), jwk_x(key)], FakeClock(NOW))
    assert verifier.verify(fal_headers(key), BODY) == "req-1"


def test_a_signature_by_an_unknown_key_is_unauthorised(key: Ed25519PrivateKey) -> None:
    verifier = FalWebhookVerifier([jwk_x(Ed25519PrivateKey.generate())], FakeClock(NOW))
    with pytest.raises(WebhookRejected) as caught:
        verifier.verify(fal_headers(key), BODY)
    assert not caught.value.malformed


def test_a_tampered_body_is_unauthorised(key: Ed25519PrivateKey) -> None:
    verifier = FalWebhookVerifier([jwk_x(key)], FakeClock(NOW))
    with pytest.raises(WebhookRejected):
        verifier.verify(fal_headers(key), BODY.replace(b"OK", b"KO"))


def test_a_stale_timestamp_is_unauthorised_even_when_correctly_signed(
    key: Ed25519PrivateKey,
) -> None:
    verifier = FalWebhookVerifier([jwk_x(key)], FakeClock(NOW + timedelta(minutes=6)))
    with pytest.raises(WebhookRejected) as caught:
        verifier.verify(fal_headers(key), BODY)
    assert not caught.value.malformed


@pytest.mark.parametrize(
    "change",
    [
        {"X-Fal-Webhook-Signature": "zz-not-hex"},
        {"X-Fal-Webhook-Timestamp": "noon"},
        {"X-Fal-Webhook-User-Id": ""},
    ],
)
def test_malformed_headers_are_rejected_as_malformed(
    key: Ed25519PrivateKey, change: dict[str, str]
) -> None:
    verifier = FalWebhookVerifier([jwk_x(key)], FakeClock(NOW))
    with pytest.raises(WebhookRejected) as caught:
        verifier.verify({**fal_headers(key), **change}, BODY)
    assert caught.value.malformed


def test_a_configured_key_that_is_not_ed25519_is_refused_at_start() -> None:
    with pytest.raises(ValueError):
        FalWebhookVerifier([base64.urlsafe_b64encode(b"short").decode()], FakeClock(NOW))
