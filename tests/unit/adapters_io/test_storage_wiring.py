"""build_object_storage: the storage and URL signer each profile and setting combination gets."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.cdn.cloudfront import CloudFrontUrlSigner
from adapters.clock import FakeClock
from adapters.storage.local_disk import LocalDiskObjectStorage
from adapters.storage.s3 import S3ObjectStorage
from entrypoints.settings import Settings
from entrypoints.storage_wiring import build_object_storage, build_url_signer

pytestmark = pytest.mark.unit

KEY = "users/u1/jobs/j1/0.png"


def production(**env: str) -> Settings:
    base = {"IMAGEGEN_PROFILE": "production", "IMAGEGEN_S3_BUCKET": "images",
            "IMAGEGEN_S3_REGION": "eu-west-1"}
    return Settings.from_env({**base, **env})


def test_the_embedded_profile_stores_on_local_disk_under_home(tmp_path: Path) -> None:
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path)})
    storage = build_object_storage(settings, FakeClock())
    assert isinstance(storage, LocalDiskObjectStorage)
    assert storage.path_for(KEY) == (tmp_path / "objects" / KEY).resolve()


def test_production_without_a_cdn_uses_presigned_s3_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    storage = build_object_storage(production(IMAGEGEN_S3_ENDPOINT_URL="http://127.0.0.1:9000"),
                                   FakeClock())
    assert isinstance(storage, S3ObjectStorage)
    try:
        url = storage.url_for(KEY, expires_in_s=600)
    finally:
        storage.close()
    assert url.startswith(f"http://127.0.0.1:9000/images/{KEY}?")
    assert parse_qs(urlsplit(url).query)["X-Amz-Expires"] == ["600"]


def test_presigned_urls_use_the_public_endpoint_the_host_can_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    """In compose the API writes to http://minio:9000, but the browser must open localhost:9000."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    storage = build_object_storage(production(IMAGEGEN_S3_ENDPOINT_URL="http://minio:9000",
                                              IMAGEGEN_S3_PUBLIC_ENDPOINT_URL="http://localhost:9000"),
                                   FakeClock())
    try:
        url = storage.url_for(KEY, expires_in_s=600)
        assert storage._client.meta.endpoint_url == "http://minio:9000"  # writes stay inside
    finally:
        storage.close()
    assert url.startswith(f"http://localhost:9000/images/{KEY}?") and "X-Amz-Signature=" in url


def test_production_needs_a_bucket() -> None:
    with pytest.raises(ValueError, match="S3_BUCKET"):
        build_object_storage(production(IMAGEGEN_S3_BUCKET=""), FakeClock())


def test_a_cloudfront_domain_with_a_key_file_gives_signed_cdn_urls(tmp_path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    (tmp_path / "cf.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))
    settings = production(IMAGEGEN_CLOUDFRONT_DOMAIN="cdn.example.com",
                          IMAGEGEN_CLOUDFRONT_KEY_ID="K1",
                          IMAGEGEN_CLOUDFRONT_PRIVATE_KEY_FILE=str(tmp_path / "cf.pem"),
                          IMAGEGEN_IMAGE_URL_TTL_S="120")
    storage = build_object_storage(settings, FakeClock())
    try:
        url = storage.url_for(KEY, expires_in_s=settings.image_url_ttl_s)
    finally:
        storage.close()  # type: ignore[attr-defined]
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"https://cdn.example.com/{KEY}?")
    assert query["Key-Pair-Id"] == ["K1"]
    assert int(query["Expires"][0]) == int(FakeClock().now().timestamp()) + 120


def test_signed_cloudfront_without_a_key_id_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="KEY_ID"):
        build_url_signer(production(IMAGEGEN_CLOUDFRONT_DOMAIN="cdn.example.com"), FakeClock())


def test_cloudfront_signing_can_be_turned_off_for_a_public_distribution() -> None:
    settings = production(IMAGEGEN_CLOUDFRONT_DOMAIN="cdn.example.com",
                          IMAGEGEN_CLOUDFRONT_SIGNED="false")
    signer = build_url_signer(settings, FakeClock())
    assert isinstance(signer, CloudFrontUrlSigner)
    assert signer.url_for(KEY, expires_in_s=60) == f"https://cdn.example.com/{KEY}"
    assert build_url_signer(production(), FakeClock()) is None


def test_object_storage_settings_are_read_from_the_environment() -> None:
    settings = production(IMAGEGEN_S3_CONNECT_TIMEOUT_S="1.5", IMAGEGEN_S3_READ_TIMEOUT_S="20",
                          IMAGEGEN_CLOUDFRONT_PRIVATE_KEY="-----BEGIN...",
                          IMAGEGEN_CLOUDFRONT_SIGNED="off")
    assert (settings.s3_bucket, settings.s3_region, settings.s3_endpoint_url) == (
        "images", "eu-west-1", "")
    assert (settings.s3_connect_timeout_s, settings.s3_read_timeout_s) == (1.5, 20.0)
    assert settings.cloudfront_private_key == "-----BEGIN..."
    assert settings.cloudfront_signed is False
    assert Settings.from_env({}).cloudfront_signed is True
