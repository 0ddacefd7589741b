"""Object storage on S3 (or anything speaking its API: MinIO, moto) through boto3, off the loop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import boto3  # type: ignore[import-untyped]
import structlog
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from application.ports import CdnUrlSigner, ObjectStorage
from domain.failures import ErrorClass, JobFailure

log = structlog.get_logger(__name__)

T = TypeVar("T")

_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def make_s3_client(*, region: str | None = None, endpoint_url: str | None = None,
                   connect_timeout_s: float = 3.0, read_timeout_s: float = 10.0,
                   max_attempts: int = 3, max_pool_connections: int = 10,
                   session: boto3.session.Session | None = None) -> Any:
    """Build one S3 client: standard retries, bounded timeouts, SigV4, path style on custom endpoints.

    Args:
        region: the bucket's region (None: the SDK's default chain).
        endpoint_url: a non-AWS endpoint (MinIO, moto); switches to path-style addressing.
        connect_timeout_s: seconds to open a connection.
        read_timeout_s: seconds to wait for each read.
        max_attempts: total attempts per call, the first included (botocore standard mode).
        max_pool_connections: HTTP connections kept; match it to the calling thread pool.
        session: a boto3 session (explicit credentials in tests); a fresh one by default.
    """
    config = Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=connect_timeout_s, read_timeout=read_timeout_s,
        max_pool_connections=max_pool_connections, signature_version="s3v4",
        s3={"addressing_style": "path" if endpoint_url else "auto"})
    session = session or boto3.session.Session()
    return session.client("s3", region_name=region, endpoint_url=endpoint_url or None, config=config)


def check_key(key: str) -> str:
    """Return `key` if it is a plain relative key (the shape `domain.images.image_key` makes).

    Raises:
        ValueError: for an empty or absolute key, backslashes, NUL, '..', or empty/'.' segments.
    """
    if (not key or key.startswith("/") or "\\" in key or "\0" in key or ".." in key
            or any(part in ("", ".") for part in key.split("/"))):
        raise ValueError(f"invalid storage key {key!r}")
    return key


class S3ObjectStorage(ObjectStorage):
    """Objects in one bucket, written with SSE-S3 (AES256) and their content type.

    boto3 is blocking, so every call runs on a small dedicated thread pool (one client per
    instance; botocore clients are thread-safe), sized like the client's connection pool so
    that storage calls never queue behind other `to_thread` work. URLs come from the CDN
    signer when one is given, else they are S3 presigned GET URLs.
    """

    def __init__(self, client: Any, bucket: str, *, url_signer: CdnUrlSigner | None = None,
                 max_workers: int = 10, presign_client: Any = None) -> None:
        """Use `client` (see `make_s3_client`) on `bucket`.

        `presign_client` signs the GET URLs handed to clients when the endpoint they must use
        differs from ours (MinIO at http://minio:9000 inside compose, localhost:9000 outside);
        signing is local, so that client never connects anywhere.

        Raises:
            ValueError: if `bucket` is empty.
        """
        if not bucket:
            raise ValueError("S3ObjectStorage needs a bucket name")
        self._client = client
        self._presign_client = presign_client or client
        self._bucket = bucket
        self._signer = url_signer
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="s3")

    @property
    def bucket(self) -> str:
        return self._bucket

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store the object (replacing any previous one), encrypted at rest with AES256.

        Raises:
            ValueError: for an invalid key.
            JobFailure: storage, when S3 refuses or cannot be reached after retries.
        """
        await self._call(f"could not write {check_key(key)}", self._client.put_object,
                         Bucket=self._bucket, Key=key, Body=data, ContentType=content_type,
                         ServerSideEncryption="AES256")
        log.debug("storage_put", key=key, size_bytes=len(data), content_type=content_type)

    async def get(self, key: str) -> bytes:
        """Return the object's bytes.

        Raises:
            ValueError: for an invalid key.
            JobFailure: storage, when the object is missing or cannot be read.
        """
        check_key(key)

        def read() -> bytes:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
            with response["Body"] as body:
                return bytes(body.read())

        return await self._call(f"could not read {key}", read)

    async def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error (S3 deletes are idempotent).

        Raises:
            ValueError: for an invalid key.
            JobFailure: storage, when S3 refuses or cannot be reached.
        """
        await self._call(f"could not delete {check_key(key)}", self._client.delete_object,
                         Bucket=self._bucket, Key=key)

    def url_for(self, key: str, *, expires_in_s: int) -> str:
        """Return a CDN URL (if a signer is set) or a presigned S3 GET URL for the object.

        Raises:
            ValueError: for an invalid key.
            JobFailure: storage, when the URL cannot be signed (no credentials, say).
        """
        check_key(key)
        if self._signer is not None:
            return self._signer.url_for(key, expires_in_s=expires_in_s)
        try:
            return str(self._presign_client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=expires_in_s))
        except (BotoCoreError, ClientError) as exc:
            raise JobFailure(ErrorClass.STORAGE, f"could not sign a URL for {key}: {exc}") from exc

    def close(self) -> None:
        """Stop the thread pool (pending calls finish) and the client's connections."""
        self._pool.shutdown(wait=False)
        self._client.close()
        if self._presign_client is not self._client:
            self._presign_client.close()

    async def _call(self, what: str, fn: Callable[..., T], **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, functools.partial(fn, **kwargs))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            if code in _MISSING_CODES:
                raise JobFailure(ErrorClass.STORAGE, f"{what}: no such object") from exc
            raise JobFailure(ErrorClass.STORAGE, f"{what}: {code or 'error'} "
                                                 f"{error.get('Message', '')}".rstrip()) from exc
        except BotoCoreError as exc:  # connection, timeout, credentials, ...
            raise JobFailure(ErrorClass.STORAGE, f"{what}: {type(exc).__name__}") from exc
