"""fal webhook verification: Ed25519 over "request-id\\nuser-id\\ntimestamp\\nsha256-hex(body)".

Headers `X-Fal-Webhook-Request-Id`, `X-Fal-Webhook-User-Id`, `X-Fal-Webhook-Timestamp` (unix
seconds) and `X-Fal-Webhook-Signature` (hex). Any configured public key may verify (fal
publishes several in its JWKS); keys are configured as the JWKS `x` values (base64url).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterable, Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from application.errors import WebhookRejected
from application.ports import Clock

DEFAULT_TOLERANCE_S = 300
_HEADERS = ("x-fal-webhook-request-id", "x-fal-webhook-user-id", "x-fal-webhook-timestamp",
            "x-fal-webhook-signature")


def public_key_from_jwk_x(x: str) -> Ed25519PublicKey:
    """An Ed25519 public key from a JWK's base64url `x` (32 raw bytes).

    Raises:
        ValueError: if `x` is not base64url of 32 bytes.
    """
    try:
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
    except binascii.Error as exc:
        raise ValueError("fal public key is not base64url") from exc
    return Ed25519PublicKey.from_public_bytes(raw)


def signed_message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    """The bytes fal signs for one delivery."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((request_id, user_id, timestamp, digest)).encode()


class FalWebhookVerifier:
    """Checks a fal delivery against every current public key, and that it is our account's."""

    def __init__(self, public_keys: Iterable[str], clock: Clock,
                 tolerance_s: int = DEFAULT_TOLERANCE_S, *,
                 key_source: Callable[[], list[Ed25519PublicKey]] | None = None,
                 user_id: str = "") -> None:
        """Parse the JWK `x` values (or read keys from `key_source`, the cached JWKS).

        Args:
            public_keys: static keys (JWK `x` values).
            clock: for the timestamp tolerance.
            tolerance_s: how far the signed timestamp may be from now.
            key_source: the current keys, called per delivery (a JWKS cache).
            user_id: our fal user id; a delivery signed for any other account is refused.

        Raises:
            ValueError: if a key is not a base64url Ed25519 public key.
        """
        static = [public_key_from_jwk_x(k) for k in public_keys]
        self._keys_of = key_source or (lambda: static)
        self._clock = clock
        self._tolerance_s = tolerance_s
        self._user_id = user_id

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Return the delivery's request id once a key verifies the signature.

        Raises:
            WebhookRejected: malformed headers (400), or a stale timestamp, no configured key
                or no verifying key (401).
        """
        lowered = {k.lower(): v.strip() for k, v in headers.items()}
        request_id, user_id, raw_ts, raw_sig = (lowered.get(h, "") for h in _HEADERS)
        if not (request_id and user_id and raw_ts and raw_sig):
            raise WebhookRejected("missing X-Fal-Webhook-* headers", malformed=True)
        if not (raw_ts.isascii() and raw_ts.isdigit() and len(raw_ts) <= 12):
            raise WebhookRejected("X-Fal-Webhook-Timestamp is not unix seconds", malformed=True)
        try:
            signature = bytes.fromhex(raw_sig)
        except ValueError as exc:
            raise WebhookRejected("X-Fal-Webhook-Signature is not hex", malformed=True) from exc
        if self._user_id and user_id != self._user_id:
            raise WebhookRejected("the delivery is signed for another fal account")
        keys = self._keys_of()
        if not keys:
            raise WebhookRejected("no fal webhook public key is configured")
        skew = abs(self._clock.now().timestamp() - int(raw_ts))
        if skew > self._tolerance_s:
            raise WebhookRejected(f"webhook timestamp is {int(skew)} s away from now")
        message = signed_message(request_id, user_id, raw_ts, body)
        for key in keys:
            try:
                key.verify(signature, message)
            except InvalidSignature:
                continue
            return request_id
        raise WebhookRejected("no fal public key verifies the signature")
