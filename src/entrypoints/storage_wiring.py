"""Builds the ObjectStorage of a profile: local disk (embedded) or S3 plus a URL signer (production)."""

from __future__ import annotations

from adapters.cdn.cloudfront import CloudFrontUrlSigner, load_private_key
from adapters.storage.local_disk import LocalDiskObjectStorage
from adapters.storage.s3 import S3ObjectStorage, make_s3_client
from application.ports import CdnUrlSigner, Clock, ObjectStorage
from entrypoints.settings import Settings
from entrypoints.settings_env import ConfigError


def build_object_storage(settings: Settings, clock: Clock) -> ObjectStorage:
    """Return the storage `settings.profile` calls for.

    Embedded: files under `home/objects` behind HMAC-signed URLs of the API itself.
    Production: the `s3_bucket` bucket, with CloudFront URLs when `cloudfront_domain` is set
    (signed unless `cloudfront_signed` is false) and presigned S3 URLs otherwise.

    Raises:
        ValueError: for production without a bucket, or signed CloudFront without a key.
    """
    if settings.profile == "embedded":
        settings = settings.with_signing_key()
        return LocalDiskObjectStorage(settings.home / "objects", settings.resolved_base_url,
                                      settings.signing_key, clock)
    if not settings.s3_bucket:
        raise ConfigError("IMAGEGEN_S3_BUCKET", "required on the production profile (the bucket for images)")
    client = make_s3_client(region=settings.s3_region or None,
                            endpoint_url=settings.s3_endpoint_url or None,
                            connect_timeout_s=settings.s3_connect_timeout_s,
                            read_timeout_s=settings.s3_read_timeout_s)
    presign = None
    if settings.s3_public_endpoint_url:  # presigned URLs the client's host can resolve
        presign = make_s3_client(region=settings.s3_region or None,
                                 endpoint_url=settings.s3_public_endpoint_url)
    return S3ObjectStorage(client, settings.s3_bucket, url_signer=build_url_signer(settings, clock),
                           presign_client=presign)


def build_url_signer(settings: Settings, clock: Clock) -> CdnUrlSigner | None:
    """A CloudFront signer when a distribution is configured, else None (presigned S3 URLs).

    Raises:
        ValueError: if signing is on but the key id or private key is missing or unreadable.
    """
    if not settings.cloudfront_domain:
        return None
    if not settings.cloudfront_signed:
        return CloudFrontUrlSigner(settings.cloudfront_domain, clock)
    if not settings.cloudfront_key_id:
        raise ValueError("signed CloudFront URLs need IMAGEGEN_CLOUDFRONT_KEY_ID "
                         "(or set IMAGEGEN_CLOUDFRONT_SIGNED=0 for a public distribution)")
    key = load_private_key(settings.cloudfront_private_key or None,
                           settings.cloudfront_private_key_file or None)
    return CloudFrontUrlSigner(settings.cloudfront_domain, clock,
                               key_id=settings.cloudfront_key_id, private_key=key)
