"""S3ObjectStorage over real boto3 and HTTP against moto: the contract, SSE, URLs and outages."""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from adapters.cdn.cloudfront import CloudFrontUrlSigner
from adapters.clock import FakeClock
from adapters.storage.s3 import S3ObjectStorage, make_s3_client
from domain.failures import ErrorClass, JobFailure
from domain.images import image_key
from tests.contracts.storage import FetchUrl, ObjectStorageContract
from tests.integration.storage.conftest import bucket_keys, session

pytestmark = pytest.mark.integration

KEY = image_key("user_1", "job_s3", 0)


class TestS3ObjectStorage(ObjectStorageContract):
    @pytest.fixture
    def storage(self, s3_storage: S3ObjectStorage) -> S3ObjectStorage:
        return s3_storage

    @pytest.fixture
    def fetch_url(self) -> FetchUrl:
        async def fetch(url: str) -> bytes:
            async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
                response = await client.get(url)
            response.raise_for_status()
            return response.content

        return fetch


async def test_objects_are_encrypted_at_rest_and_keep_their_content_type(
        s3_storage: S3ObjectStorage, s3_client: Any, bucket: str) -> None:
    await s3_storage.put(KEY, b"\x89PNG...", "image/png")
    head = s3_client.head_object(Bucket=bucket, Key=KEY)
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentType"] == "image/png"
    assert head["ContentLength"] == 7
    assert bucket_keys(s3_client, bucket) == ["users/user_1/jobs/job_s3/0.png"]


async def test_presigned_urls_name_the_bucket_key_and_expiry(s3_storage: S3ObjectStorage) -> None:
    url = s3_storage.url_for(KEY, expires_in_s=900)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path == f"/{s3_storage.bucket}/{KEY}"
    assert query["X-Amz-Expires"] == ["900"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]


async def test_urls_come_from_the_cdn_signer_when_one_is_set(
        moto_endpoint: str, bucket: str) -> None:
    client = make_s3_client(endpoint_url=moto_endpoint, session=session())
    storage = S3ObjectStorage(client, bucket,
                              url_signer=CloudFrontUrlSigner("cdn.example.com", FakeClock()))
    try:
        assert storage.url_for(KEY, expires_in_s=60) == f"https://cdn.example.com/{KEY}"
    finally:
        storage.close()


async def test_a_missing_bucket_is_a_storage_failure(moto_endpoint: str) -> None:
    storage = S3ObjectStorage(make_s3_client(endpoint_url=moto_endpoint, session=session()),
                              "no-such-bucket-here")
    try:
        with pytest.raises(JobFailure) as caught:
            await storage.put(KEY, b"x", "image/png")
    finally:
        storage.close()
    assert caught.value.error_class is ErrorClass.STORAGE
    assert "NoSuchBucket" in caught.value.message


async def test_an_unreachable_endpoint_fails_as_storage_quickly() -> None:
    client = make_s3_client(endpoint_url="http://127.0.0.1:1", session=session(),
                            connect_timeout_s=0.5, read_timeout_s=0.5)
    storage = S3ObjectStorage(client, "bucket")
    started = time.monotonic()
    try:
        for call in (storage.put(KEY, b"x", "image/png"), storage.get(KEY), storage.delete(KEY)):
            with pytest.raises(JobFailure) as caught:
                await call
            assert caught.value.error_class is ErrorClass.STORAGE
            assert "EndpointConnectionError" in caught.value.message
    finally:
        storage.close()
    assert time.monotonic() - started < 15


async def test_an_endpoint_that_accepts_but_never_answers_times_out_as_storage() -> None:
    with socket.socket() as silent:  # the kernel accepts connections; nobody ever replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        host, port = silent.getsockname()
        client = make_s3_client(endpoint_url=f"http://{host}:{port}", session=session(),
                                connect_timeout_s=0.5, read_timeout_s=0.2)
        storage = S3ObjectStorage(client, "bucket")
        started = time.monotonic()
        try:
            with pytest.raises(JobFailure) as caught:
                await storage.get(KEY)
        finally:
            storage.close()
    assert caught.value.error_class is ErrorClass.STORAGE
    assert "ReadTimeoutError" in caught.value.message
    assert time.monotonic() - started < 5  # 3 x 0.2 s plus standard-mode backoff
