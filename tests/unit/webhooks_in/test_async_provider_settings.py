"""Settings and wiring of the async providers and their webhook receivers."""

from __future__ import annotations

import pytest

from adapters.clock import FakeClock
from entrypoints.async_provider_wiring import build_webhook_receivers, webhook_url
from entrypoints.settings import Settings

pytestmark = pytest.mark.unit

SECRET_A = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRET_B = "whsec_c2VjcmV0LWItc2VjcmV0LWItc2VjcmV0LWI="


def test_several_webhook_secrets_and_keys_are_read_from_comma_or_space_separated_lists() -> None:
    settings = Settings.from_env({"IMAGEGEN_REPLICATE_WEBHOOK_SECRETS": f"{SECRET_A}, {SECRET_B}",
                                  "IMAGEGEN_IMAGE_FETCH_ALLOW_HOSTS": "a.example b.example",
                                  "REPLICATE_API_TOKEN": "r8_x", "FAL_KEY": "k"})
    assert settings.replicate_webhook_secrets == (SECRET_A, SECRET_B)
    assert settings.image_fetch_allow_hosts == ("a.example", "b.example")
    assert (settings.replicate_api_token, settings.fal_api_key) == ("r8_x", "k")


def test_providers_are_told_the_webhook_base_url_when_set_else_the_public_url() -> None:
    public = Settings(public_base_url="https://api.example.com/")
    split = Settings(public_base_url="https://api.example.com",
                     webhook_base_url="https://hooks.example.com")
    assert webhook_url(public, "replicate") == "https://api.example.com/webhooks/replicate"
    assert webhook_url(split, "fal") == "https://hooks.example.com/webhooks/fal"


def test_a_receiver_exists_only_for_providers_with_verification_keys() -> None:
    assert build_webhook_receivers(Settings(), FakeClock()) == {}
    receivers = build_webhook_receivers(Settings(replicate_webhook_secrets=(SECRET_A,)), FakeClock())
    assert list(receivers) == ["replicate"]


def test_a_secret_that_is_not_base64_is_refused_when_wiring() -> None:
    with pytest.raises(ValueError):
        build_webhook_receivers(Settings(replicate_webhook_secrets=("whsec_***",)), FakeClock())
