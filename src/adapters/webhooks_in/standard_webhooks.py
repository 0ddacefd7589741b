"""Standard Webhooks verification (HMAC-SHA256 over "id.timestamp.body"), as Replicate signs.

The spec: headers `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`
(space-separated `v1,<base64>` entries, any one may match; others such as `v1a` are skipped);
secrets are shown as `whsec_<base64>`. Several secrets may be configured (rotation). Malformed
input is a 400-class `WebhookRejected`, never an uncaught error.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping

from application.errors import WebhookRejected
from application.ports import Clock

DEFAULT_TOLERANCE_S = 300
_MAX_ID = 255


def decode_secret(secret: str) -> bytes:
    """The key bytes of a `whsec_<base64>` secret (unpadded base64 tolerated).

    Raises:
        ValueError: if the secret is empty or not base64.
    """
    body = secret.removeprefix("whsec_").strip()
    if not body:
        raise ValueError("empty webhook secret")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError("webhook secret is not base64") from exc


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature of one message (also used by tests and outgoing webhooks)."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


class StandardWebhookVerifier:
    """Checks one delivery against every configured secret, within a timestamp tolerance."""

    def __init__(self, secrets: Iterable[str], clock: Clock,
                 tolerance_s: int = DEFAULT_TOLERANCE_S) -> None:
        """Decode the `whsec_` secrets.

        Raises:
            ValueError: if a secret is empty or not base64.
        """
        self._keys = [decode_secret(s) for s in secrets]
        self._clock = clock
        self._tolerance_s = tolerance_s

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Return the delivery's `webhook-id` once a signature matches.

        Raises:
            WebhookRejected: malformed (missing or unparsable headers), or not malformed when
                no secret is configured, the timestamp is outside the tolerance or no
                signature matches.
        """
        msg_id, timestamp, signatures = _parse_headers(headers)
        if not self._keys:
            raise WebhookRejected("no webhook secret is configured for this provider")
        skew = abs(self._clock.now().timestamp() - timestamp)
        if skew > self._tolerance_s:
            raise WebhookRejected(f"webhook timestamp is {int(skew)} s away from now")
        content = f"{msg_id}.{timestamp}.".encode() + body
        for key in self._keys:
            expected = hmac.new(key, content, hashlib.sha256).digest()
            if any(hmac.compare_digest(expected, candidate) for candidate in signatures):
                return msg_id
        raise WebhookRejected("no webhook signature matches")


def _parse_headers(headers: Mapping[str, str]) -> tuple[str, int, list[bytes]]:
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id", "").strip()
    raw_ts = lowered.get("webhook-timestamp", "").strip()
    raw_sig = lowered.get("webhook-signature", "").strip()
    if not msg_id or not raw_ts or not raw_sig:
        raise WebhookRejected("missing webhook-id, webhook-timestamp or webhook-signature",
                              malformed=True)
    if len(msg_id) > _MAX_ID or "." in msg_id:
        raise WebhookRejected("webhook-id is too long or contains '.'", malformed=True)
    if not (raw_ts.isascii() and raw_ts.isdigit() and len(raw_ts) <= 12):
        raise WebhookRejected("webhook-timestamp is not unix seconds", malformed=True)
    signatures: list[bytes] = []
    for entry in raw_sig.split():
        version, comma, value = entry.partition(",")
        if not comma:
            raise WebhookRejected("webhook-signature entry without a version", malformed=True)
        if version != "v1":
            continue
        try:
            signatures.append(base64.b64decode(value, validate=True))
        except binascii.Error as exc:
            raise WebhookRejected("webhook-signature is not base64", malformed=True) from exc
    return msg_id, int(raw_ts), signatures
