"""A moto S3 server on loopback for the session, and a fresh bucket per test.

The server runs in a thread of the test process (no service to start, so nothing skips);
clients reach it over real HTTP with real boto3, so retries, timeouts, signing and error
parsing are exercised as in production.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from adapters.storage.s3 import S3ObjectStorage, make_s3_client

REGION = "eu-west-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """The http://127.0.0.1:<port> of a moto server started for this session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@functools.cache
def session() -> boto3.session.Session:
    """A boto3 session with dummy credentials, so nothing reads the environment or IMDS.

    Shared, since building a session's loaders costs ~0.3 s; clients are made per test.
    """
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 region_name=REGION)


@pytest.fixture
def s3_client(moto_endpoint: str) -> Iterator[Any]:
    client = make_s3_client(region=REGION, endpoint_url=moto_endpoint, session=session(),
                            connect_timeout_s=1, read_timeout_s=5)
    yield client
    client.close()


@pytest.fixture
def bucket(s3_client: Any) -> str:
    name = f"imagegen-test-{uuid.uuid4().hex[:12]}"
    s3_client.create_bucket(Bucket=name,
                            CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


@pytest.fixture
def s3_storage(moto_endpoint: str, bucket: str) -> Iterator[S3ObjectStorage]:
    client = make_s3_client(region=REGION, endpoint_url=moto_endpoint, session=session(),
                            connect_timeout_s=1, read_timeout_s=5)
    storage = S3ObjectStorage(client, bucket, max_workers=4)
    yield storage
    storage.close()


def bucket_keys(s3_client: Any, bucket: str) -> list[str]:
    """Every key in the bucket (one page is plenty for tests)."""
    response = s3_client.list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in response.get("Contents", []))
