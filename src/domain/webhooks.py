"""Outgoing webhooks: endpoints, deliveries, the retry schedule and Standard Webhooks signing.

Pure: the signature is HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}`` keyed with
the base64 secret after its ``whsec_`` prefix, sent as ``v1,<base64>`` (standardwebhooks.com).
A delivery's id is the `webhook-id`: it stays the same on every retry of that delivery.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from datetime import datetime, timedelta

import msgspec

from domain.jobs import JobStatus, JobStatusChanged

SECRET_PREFIX = "whsec_"

#: Seconds to wait before each attempt, measured from the previous failure (Svix's schedule):
#: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h -- eight attempts in all.
RETRY_SCHEDULE_S: tuple[int, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)

EVENT_TYPES: tuple[str, ...] = ("job.status_changed", "job.completed", "job.failed", "job.cancelled")

_TERMINAL_TYPES = {JobStatus.COMPLETED: "job.completed", JobStatus.FAILED: "job.failed",
                   JobStatus.CANCELLED: "job.cancelled"}


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the schedule is exhausted


class WebhookEndpoint(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    user_id: str
    url: str
    event_types: tuple[str, ...]
    secret: str
    created_at: datetime
    description: str = ""
    previous_secret: str | None = None  # still signs until previous_secret_until (a rotation)
    previous_secret_until: datetime | None = None

    def wants(self, event_type: str) -> bool:
        return event_type in self.event_types

    def signing_secrets(self, now: datetime) -> tuple[str, ...]:
        """The current secret, then the previous one while its overlap lasts."""
        if self.previous_secret and self.previous_secret_until is not None and now < self.previous_secret_until:
            return (self.secret, self.previous_secret)
        return (self.secret,)


class WebhookDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """One event for one endpoint; `id` is the stable `webhook-id`."""

    id: str
    endpoint_id: str
    user_id: str
    event_type: str
    payload: str  # the exact JSON body sent (and signed) on every attempt
    created_at: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


class DeliveryAttempt(msgspec.Struct, frozen=True, kw_only=True):
    delivery_id: str
    number: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    succeeded: bool


def event_type_for(event: JobStatusChanged) -> str:
    """`job.completed` / `job.failed` / `job.cancelled` for terminal states, else `job.status_changed`."""
    return _TERMINAL_TYPES.get(JobStatus(event.status), "job.status_changed")


def after_attempt(delivery: WebhookDelivery, *, now: datetime, status_code: int | None,
                  error: str | None) -> WebhookDelivery:
    """The delivery after one attempt: succeeded on any 2xx, else rescheduled or exhausted."""
    attempts = delivery.attempts + 1
    common = dict(attempts=attempts, last_status_code=status_code, last_error=error)
    if status_code is not None and 200 <= status_code < 300:
        return msgspec.structs.replace(delivery, status=DeliveryStatus.SUCCEEDED,
                                       next_attempt_at=None, delivered_at=now, **common)
    if attempts >= len(RETRY_SCHEDULE_S):
        return msgspec.structs.replace(delivery, status=DeliveryStatus.FAILED, next_attempt_at=None,
                                       **common)
    wait = timedelta(seconds=RETRY_SCHEDULE_S[attempts])
    return msgspec.structs.replace(delivery, next_attempt_at=now + wait, **common)


def secret_bytes(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret."""
    raw = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` value (`v1,<base64 HMAC-SHA256>`) of one attempt."""
    content = f"{msg_id}.{timestamp}.{body}".encode()
    digest = hmac.new(secret_bytes(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_all(secrets: tuple[str, ...], msg_id: str, timestamp: int, body: str) -> str:
    """One `v1,` signature per secret, space-separated, as Standard Webhooks allows; a receiver
    holding either secret during a rotation's overlap verifies the message."""
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets)


def verify(secret: str, headers: dict[str, str], body: str) -> bool:
    """Tell whether any v1 signature in `headers` matches (constant-time); no clock check."""
    expected = sign(secret, headers["webhook-id"], int(headers["webhook-timestamp"]), body)
    return any(hmac.compare_digest(expected, candidate)
               for candidate in headers["webhook-signature"].split(" "))
