"""CloudFront URLs for stored objects: public ones, or signed with a canned policy (RSA-SHA1)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from botocore.signers import CloudFrontSigner  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from application.ports import CdnUrlSigner, Clock


def load_private_key(pem: str | bytes | None = None, path: str | Path | None = None) -> rsa.RSAPrivateKey:
    """Load an unencrypted RSA private key from PEM text or from a PEM file.

    Args:
        pem: the key itself (PKCS#1 or PKCS#8 PEM); wins over `path` when both are given.
        path: a file holding the key.

    Raises:
        ValueError: if neither is given, the PEM does not parse, or the key is not RSA.
    """
    if pem:
        data = pem.encode() if isinstance(pem, str) else pem
    elif path:
        data = Path(path).read_bytes()
    else:
        raise ValueError("a CloudFront private key is needed (PEM text or a file path)")
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("CloudFront signed URLs need an RSA private key")  # noqa: TRY004 (bad config)
    return key


class CloudFrontUrlSigner(CdnUrlSigner):
    """Builds `https://{domain}/{key}` URLs, signed when a key pair is configured.

    Signed URLs use CloudFront's canned policy (`Expires`, `Signature`, `Key-Pair-Id` query
    parameters); botocore's `CloudFrontSigner` builds the policy and the URL, `cryptography`
    makes the RSA-SHA1 PKCS#1 v1.5 signature CloudFront requires. Without a key, URLs are
    public and `expires_in_s` is ignored (the distribution must then allow public reads).
    """

    def __init__(self, domain: str, clock: Clock, *, key_id: str | None = None,
                 private_key: rsa.RSAPrivateKey | None = None) -> None:
        """Serve from `domain` (a host name; a leading https:// is tolerated).

        Args:
            domain: the distribution's domain, e.g. d111111abcdef8.cloudfront.net.
            clock: the time source for expiry.
            key_id: the CloudFront public key id (or legacy key-pair id) the key belongs to.
            private_key: the RSA key; with `key_id`, turns on signing.

        Raises:
            ValueError: for an empty domain, or a key without a key id (or the reverse).
        """
        host = domain.removeprefix("https://").removeprefix("http://").strip("/")
        if not host:
            raise ValueError("CloudFrontUrlSigner needs a domain")
        if (key_id is None) != (private_key is None):
            raise ValueError("signed CloudFront URLs need both a key id and a private key")
        self._base = f"https://{host}"
        self._clock = clock
        self._signer = CloudFrontSigner(key_id, self._rsa_sha1) if private_key else None
        self._private_key = private_key

    @property
    def signed(self) -> bool:
        return self._signer is not None

    def url_for(self, key: str, *, expires_in_s: int = 3600) -> str:
        """Return the object's URL, signed to expire `expires_in_s` seconds from now.

        Raises:
            ValueError: for an empty key or a non-positive expiry.
        """
        if not key:
            raise ValueError("an object key is needed")
        url = f"{self._base}/{quote(key.lstrip('/'), safe='/')}"
        if self._signer is None:
            return url
        if expires_in_s <= 0:
            raise ValueError("expires_in_s must be positive")
        expires = int(self._clock.now().timestamp()) + expires_in_s
        return str(self._signer.generate_presigned_url(
            url, date_less_than=datetime.fromtimestamp(expires, tz=UTC)))

    def _rsa_sha1(self, message: bytes) -> bytes:
        assert self._private_key is not None
        return self._private_key.sign(message, padding.PKCS1v15(), hashes.SHA1())
