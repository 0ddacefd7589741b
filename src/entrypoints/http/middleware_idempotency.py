"""`Idempotency-Key` on POST requests, with Stripe's semantics, as a raw ASGI middleware.

Keys are scoped to the API key that sent them. The first request with a key inserts an
in-progress record (atomically: unique per API key and key), runs, and stores its status code
and body. Later requests with the key and the same fingerprint (method, path, body bytes) get
that response again with `Idempotent-Replayed: true`; with another fingerprint 422; while the
first still runs 409. Answers that say "try again" are not stored, so a retry may succeed: 409,
429 and 503 (nothing was committed). Every other answer is, 4xx and 500 included (ADR 0030).

A 503 whose commit may have happened (`CommitOutcomeUnknown`) is different (ADR 0052): the
record is kept "in doubt". The handler gets an `IdempotencyContext` in the ASGI scope with
the job id derived from the key and the request, so the first attempt's job, if it committed,
has that id; a retry with the key and the same request takes the record over and runs again,
and the handler finds the job instead of making a second one.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC
from typing import Any

import structlog

from application.errors import Unauthorized
from application.ports import Clock, IdempotencyStore
from application.use_cases.api_keys import Authenticate
from domain.idempotency import IdempotencyRecord, StoredResponse, check_key, derived_job_id, fingerprint
from entrypoints.http.asgi_io import BodyTooLarge, header, read_body, replaying_receive, send_bytes, send_error
from entrypoints.http.schemas import ErrorDetail

HEADER = "Idempotency-Key"
#: The official OpenAI SDKs number their attempts of one call in this header (0 first, 1.. retries)
#: and send no idempotency key of their own (openai-python: `_idempotency_header = None`).
SDK_RETRY_HEADER = "x-stainless-retry-count"
SDK_PATHS = ("/v1/images/",)
NOT_STORED = frozenset({409, 429, 503})
#: Where the handler finds this request's `IdempotencyContext` in the ASGI scope.
SCOPE_KEY = "imagegen.idempotency"


class IdempotencyContext:
    """What a keyed request's handler may use: `job_id` for the job it creates, and
    `in_doubt`, set by the error handler when the request's commit may have happened."""

    __slots__ = ("job_id", "in_doubt")

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.in_doubt = False


def idempotent_job_id(scope: dict[str, Any]) -> str | None:
    """The derived job id of a keyed request (None without an Idempotency-Key)."""
    context = scope.get(SCOPE_KEY)
    return context.job_id if isinstance(context, IdempotencyContext) else None


def mark_in_doubt(scope: dict[str, Any]) -> None:
    context = scope.get(SCOPE_KEY)
    if isinstance(context, IdempotencyContext):
        context.in_doubt = True
log = structlog.get_logger("imagegen.http.idempotency")


def _boundary_free(scope: dict[str, Any], body: bytes) -> bytes:
    """The body with a multipart boundary replaced by a constant: the SDK draws a new boundary
    on every attempt, so the raw bytes of a retried edit differ from the first attempt's."""
    match = re.search(r"boundary=\"?([^\";]+)", header(scope, "content-type") or "")
    return body.replace(match.group(1).encode("latin-1"), b"B") if match else body


def _error(type_: str, reason: str) -> ErrorDetail:
    return ErrorDetail(type=type_, message=f"{HEADER}: {reason}", field=HEADER, reason=reason)


class _Capture:
    """Passes the response through to the client and keeps a copy of it."""

    def __init__(self, send: Any) -> None:
        self._send = send
        self.status: int | None = None
        self.content_type = "application/json"
        self.chunks: list[bytes] = []

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            for key, value in message.get("headers", []):
                if key.lower() == b"content-type":
                    self.content_type = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
        await self._send(message)


class IdempotencyMiddleware:
    def __init__(self, app: Any, *, store: IdempotencyStore, authenticate: Authenticate, clock: Clock,
                 max_body_bytes: int, max_edit_body_bytes: int = 20 * 1024 * 1024) -> None:
        self.app, self._store, self._authenticate = app, store, authenticate
        self._clock, self._max_body, self._max_edit_body = clock, max_body_bytes, max_edit_body_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        post = scope["type"] == "http" and scope["method"] == "POST"
        key = header(scope, HEADER) if post else None
        retry_count = header(scope, SDK_RETRY_HEADER) if post and scope["path"].startswith(SDK_PATHS) else None
        if key is None and retry_count is not None:
            await self._sdk_call(scope, receive, send, retry_count)
            return
        if key is None:
            await self.app(scope, receive, send)
            return
        if (reason := check_key(key)) is not None:
            await send_error(send, 400, _error("invalid_request", reason))
            return
        scheme, _, token = (header(scope, "authorization") or "").partition(" ")
        try:
            principal = await self._authenticate(token.strip() if scheme.lower() == "bearer" else None)
        except Unauthorized:
            await self.app(scope, receive, send)  # the handler answers 401; nothing to remember
            return
        try:
            body = await read_body(receive, self._max_body)
        except BodyTooLarge:
            await send_error(send, 413, ErrorDetail(
                type="invalid_request", message="body: request body too large", field="body",
                reason=f"larger than {self._max_body} bytes"))
            return
        # A multipart retry draws a new boundary: the fingerprint ignores it (ADR 0056).
        await self._keyed(scope, receive, send, principal, key, _boundary_free(scope, body), replay_body=body)

    async def _sdk_call(self, scope: dict[str, Any], receive: Any, send: Any, retry_count: str) -> None:
        """An OpenAI SDK call without a key: the key is derived from the body, so the SDK's
        retries of one call (retry count >= 1) replay the first answer instead of starting (and
        charging) another job. Attempt 0 is a new call: it forgets a finished record of an
        earlier call with the same body, so two deliberate identical calls make two jobs."""
        scheme, _, token = (header(scope, "authorization") or "").partition(" ")
        try:
            principal = await self._authenticate(token.strip() if scheme.lower() == "bearer" else None)
        except Unauthorized:
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, self._max_edit_body)
        except BodyTooLarge:
            await self.app(scope, replaying_receive(b"", receive), send)  # the route answers 413
            return
        digest = hashlib.sha256(scope["path"].encode() + b"\0" + _boundary_free(scope, body)).hexdigest()
        key = f"sdk-{digest[:48]}"
        if retry_count.strip() in ("", "0"):
            await self._store.forget(principal.key_id, key)
        await self._keyed(scope, receive, send, principal, key, _boundary_free(scope, body),
                          replay_body=body, per_call=True)

    async def _keyed(self, scope: dict[str, Any], receive: Any, send: Any, principal: Any, key: str,
                     body: bytes, replay_body: bytes | None = None, per_call: bool = False) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        path = scope["path"] + (f"?{query}" if query else "")
        now = self._clock.now()
        record = IdempotencyRecord(api_key_id=principal.key_id, key=key, created_at=now,
                                   fingerprint=fingerprint("POST", path, body))
        existing = await self._store.begin(record, now)
        if existing is not None and not (existing.in_doubt and await self._store.resume(record, now)):
            await self._answer_existing(existing, record, send)
            return
        derived_from = record.fingerprint
        if per_call:  # a derived SDK key names many calls: the record's birth tells them apart (ADR 0056)
            born = (existing or record).created_at.astimezone(UTC)
            derived_from += "@" + born.isoformat()
        context = IdempotencyContext(derived_job_id(principal.key_id, key, derived_from))
        scope[SCOPE_KEY] = context
        capture = _Capture(send)
        try:
            await self.app(scope, replaying_receive(body if replay_body is None else replay_body, receive),
                           capture.send)
        except BaseException:
            await self._store.release(principal.key_id, key)
            raise
        if context.in_doubt:
            log.warning("idempotency.in_doubt", key_prefix=key[:8])
            await self._store.mark_in_doubt(principal.key_id, key)
        elif capture.status is None or capture.status in NOT_STORED:
            await self._store.release(principal.key_id, key)
        else:
            await self._store.complete(principal.key_id, key, StoredResponse(
                status_code=capture.status, body=b"".join(capture.chunks), content_type=capture.content_type))

    @staticmethod
    async def _answer_existing(existing: IdempotencyRecord, record: IdempotencyRecord, send: Any) -> None:
        if existing.fingerprint != record.fingerprint:
            await send_error(send, 422, _error(
                "idempotency_error", "this key was already used with a different request "
                "(method, path or body); use a new key for a new request"))
        elif existing.response is None:  # in progress, or in doubt and just taken over by another
            await send_error(send, 409, _error(
                "idempotency_key_in_use", "a request with this key is still being processed; "
                "retry shortly"), headers={"Retry-After": "1"})
        else:
            log.info("idempotency.replayed", key_prefix=record.key[:8])
            stored = existing.response
            await send_bytes(send, stored.status_code, stored.body, stored.content_type,
                             {"Idempotent-Replayed": "true"})
