"""Examples of the model catalog, API key hashing and image keys."""

from __future__ import annotations

import hashlib

import pytest

from domain.accounts import hash_api_key
from domain.catalog import ModelCatalog
from domain.errors import InvalidRequest
from domain.images import image_key
from domain.pricing import ModelSpec

pytestmark = pytest.mark.unit

CATALOG = ModelCatalog([
    ModelSpec(name="local", provider="local", credits_per_image=1),
    ModelSpec(name="dall-e-3", provider="openai", credits_per_image=5),
])


def test_a_known_model_is_found_by_name() -> None:
    assert CATALOG.get("dall-e-3").provider == "openai"
    assert CATALOG.names() == ["dall-e-3", "local"]
    assert sorted(m.name for m in CATALOG) == ["dall-e-3", "local"]


def test_an_unknown_model_is_an_invalid_request_on_the_model_field_listing_known_ones() -> None:
    with pytest.raises(InvalidRequest) as refused:
        CATALOG.get("dall-e-9")

    assert refused.value.field == "model"
    assert "dall-e-3, local" in refused.value.reason


def test_an_api_key_is_stored_as_its_sha256_hex() -> None:
    assert hash_api_key("ig_secret") == hashlib.sha256(b"ig_secret").hexdigest()
    assert hash_api_key("ig_secret") != hash_api_key("ig_secreT")


def test_image_keys_are_scoped_by_user_and_job() -> None:
    assert image_key("user-1", "job-1", 0) == "users/user-1/jobs/job-1/0.png"
    assert image_key("user-1", "job-1", 2, "webp") == "users/user-1/jobs/job-1/2.webp"
