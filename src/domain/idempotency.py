"""Idempotency keys (Stripe semantics): a key names one request; repeating it replays the answer.

A record starts `in_progress` when the first request with the key begins and becomes
`completed` with the stored response, or `in_doubt` when the request's commit failed in a way
that may have committed (ADR 0052): a retry with the key and the same request then runs again,
and finds what the first one may have made (a job under `derived_job_id`) instead of making
it twice. The fingerprint ties the key to one request: method, path and the exact body bytes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import msgspec

KEY_TTL = timedelta(hours=24)
#: An in-progress record older than this belongs to a request whose process died (our POSTs take
#: milliseconds); a new request with the key takes it over instead of getting 409 for 24 h.
ABANDONED_AFTER = timedelta(minutes=10)
MAX_KEY_LENGTH = 255


class StoredResponse(msgspec.Struct, frozen=True, kw_only=True):
    status_code: int
    body: bytes
    content_type: str = "application/json"


class IdempotencyRecord(msgspec.Struct, frozen=True, kw_only=True):
    api_key_id: str
    key: str
    fingerprint: str
    created_at: datetime
    response: StoredResponse | None = None  # None while the first request is in progress
    in_doubt: bool = False  # the first request ended without knowing whether it committed

    @property
    def in_progress(self) -> bool:
        return self.response is None and not self.in_doubt

    def expired(self, now: datetime) -> bool:
        return now - self.created_at >= KEY_TTL

    def replaceable(self, now: datetime) -> bool:
        """Expired, or abandoned while in progress: a new request may take the key."""
        return self.expired(now) or (self.in_progress and now - self.created_at >= ABANDONED_AFTER)


def fingerprint(method: str, path: str, body: bytes) -> str:
    """SHA-256 hex of the method, the path (with its query) and the body bytes."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def check_key(key: str) -> str | None:
    """The reason `key` is not a usable idempotency key, or None when it is."""
    if not key.strip():
        return "must not be empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"must be at most {MAX_KEY_LENGTH} characters"
    if not key.isprintable() or not key.isascii():
        return "must be printable ASCII"
    return None


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def derived_job_id(api_key_id: str, key: str, request_fingerprint: str) -> str:
    """The id of the job a keyed request makes: the same for the same key and request, so a
    retry after an outcome in doubt finds the job the first attempt may have committed."""
    digest = hashlib.sha256(f"{api_key_id}\x00{key}\x00{request_fingerprint}".encode()).digest()
    value = int.from_bytes(digest[:17], "big") >> 6  # 130 bits -> 26 base32 characters
    chars = [_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26))]
    return "job_" + "".join(chars)


def derived_batch_ids(job_id: str, children: int) -> tuple[str, tuple[str, ...]]:
    """The ids of the batch a keyed request makes, and of its children, from the request's
    derived job id: the same for the same key and request, like `derived_job_id`."""
    suffix = job_id.removeprefix("job_")
    return "bat_" + suffix, tuple(derived_job_id(job_id, str(i), "batch child") for i in range(children))
