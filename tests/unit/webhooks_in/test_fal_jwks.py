"""fal webhook keys from its JWKS: fetched, cached 24 h, re-read on rotation; static override;
our fal account pinned. The JWKS is served by respx at fal's real URL with a local key pair."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from structlog.testing import capture_logs

from adapters.clock import FakeClock
from adapters.webhooks_in.fal_jwks import DEFAULT_JWKS_URL, FalJwksKeys
from adapters.webhooks_in.receivers import FalWebhookReceiver
from application.errors import WebhookRejected
from application.use_cases.handle_provider_callback import _verify
from entrypoints.async_provider_wiring import build_webhook_receivers
from entrypoints.settings import Settings
from tests.unit.webhooks_in.test_fal_signature import BODY, NOW, fal_headers, jwk_x

pytestmark = pytest.mark.unit


def jwks(*keys: Ed25519PrivateKey) -> httpx.Response:
    return httpx.Response(200, json={"keys": [
        {"kty": "OKP", "crv": "Ed25519", "x": jwk_x(k), "kid": f"k{i}"} for i, k in enumerate(keys)]})


@pytest.fixture
async def client():  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient() as c:
        yield c


def receiver(client: httpx.AsyncClient, clock: FakeClock, user_id: str = "") -> FalWebhookReceiver:
    return FalWebhookReceiver((), clock, jwks=FalJwksKeys(client=client, clock=clock),
                              user_id=user_id)


async def test_keys_are_fetched_once_and_cached_for_24_hours(client) -> None:  # type: ignore[no-untyped-def]
    key, clock = Ed25519PrivateKey.generate(), FakeClock(NOW)
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(DEFAULT_JWKS_URL).mock(return_value=jwks(key))
        fal = receiver(client, clock)

        first = await _verify(fal, fal_headers(key), BODY)
        clock.advance(23 * 3600)
        await _verify(fal, fal_headers(key, ts=int(clock.now().timestamp())), BODY)
        assert route.call_count == 1
        clock.advance(3601)
        await _verify(fal, fal_headers(key, ts=int(clock.now().timestamp())), BODY)

    assert first.provider_job_id == "req-1" and route.call_count == 2


async def test_a_rotated_key_is_picked_up_by_one_early_re_read(client) -> None:  # type: ignore[no-untyped-def]
    old, new, clock = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(), FakeClock(NOW)
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(DEFAULT_JWKS_URL).mock(side_effect=[jwks(old), jwks(old, new)])
        fal = receiver(client, clock)
        await _verify(fal, fal_headers(old), BODY)

        delivery = await _verify(fal, fal_headers(new), BODY)

    assert delivery.provider_job_id == "req-1" and route.call_count == 2


async def test_a_forged_signature_forces_at_most_one_re_read_a_minute(client) -> None:  # type: ignore[no-untyped-def]
    key, forger, clock = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate(), FakeClock(NOW)
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(DEFAULT_JWKS_URL).mock(return_value=jwks(key))
        fal = receiver(client, clock)
        for _ in range(5):
            with pytest.raises(WebhookRejected):
                await _verify(fal, fal_headers(forger), BODY)

    assert route.call_count == 2  # the first read, and one forced re-read


async def test_a_callback_signed_for_another_fal_account_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    key, clock = Ed25519PrivateKey.generate(), FakeClock(NOW)
    with respx.mock(assert_all_called=False) as mock:
        mock.get(DEFAULT_JWKS_URL).mock(return_value=jwks(key))
        ours = receiver(client, clock, user_id="user-9")
        theirs = receiver(client, clock, user_id="user-1")

        assert (await _verify(ours, fal_headers(key), BODY)).provider_job_id == "req-1"
        with pytest.raises(WebhookRejected, match="another fal account"):
            await _verify(theirs, fal_headers(key), BODY)


async def test_static_keys_override_the_jwks_which_is_then_never_fetched(client) -> None:  # type: ignore[no-untyped-def]
    key, clock = Ed25519PrivateKey.generate(), FakeClock(NOW)
    settings = Settings(fal_api_key="fal-key", fal_webhook_public_keys=(jwk_x(key),))
    with respx.mock(assert_all_called=False) as mock, capture_logs() as logs:
        route = mock.get(DEFAULT_JWKS_URL).mock(return_value=jwks())
        fal = build_webhook_receivers(settings, clock, client)["fal"]
        await _verify(fal, fal_headers(key), BODY)

    assert not route.called
    assert any(e["event"] == "fal.user_id_not_pinned" for e in logs)  # unpinned: warned


def test_a_keyed_fal_gets_a_jwks_receiver_without_static_keys(client) -> None:  # type: ignore[no-untyped-def]
    receivers = build_webhook_receivers(Settings(fal_api_key="fal-key", fal_user_id="user-9"),
                                        FakeClock(NOW), client)
    assert "fal" in receivers and receivers["fal"]._jwks is not None  # type: ignore[attr-defined]
    assert timedelta(seconds=Settings().fal_jwks_cache_s) == timedelta(hours=24)
