"""Token-bucket rate limits as a raw ASGI middleware: 429 + Retry-After, fail closed (ADR 0081).

- A request with a bearer token takes from the bucket of that token's hash (no database lookup
  per request). A token this process has not yet seen answered without a 401 also takes from
  its client address's bucket, so random or revoked tokens are throttled per address before
  each costs a key lookup; requests without a token share the address bucket too.
- When the limiter's store is unavailable or saturated (Redis down, its pool exhausted, a slow
  answer) the request is refused with 503 and Retry-After, never let through: limits protect
  capacity, and an overloaded store is exactly when capacity is short.
- Every answer on a limited path carries `RateLimit-Limit`, `RateLimit-Remaining`,
  `RateLimit-Reset` and `RateLimit-Policy` (IETF draft-ietf-httpapi-ratelimit-headers).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections import OrderedDict
from typing import Any

import structlog

from application.errors import ServiceUnavailable
from application.ports import RateLimiter
from domain.rate_limit import RateDecision, RateLimit
from entrypoints.http.asgi_io import header, send_error
from entrypoints.http.schemas import ErrorDetail

log = structlog.get_logger("imagegen.http.rate_limit")

#: Paths outside the limiter: liveness probes and the providers' signed callbacks.
UNLIMITED_PREFIXES = ("/healthz", "/webhooks/")
#: Token hashes remembered as "answered without 401" in this process (least recently used out).
KNOWN_TOKENS = 10_000
#: The longest the limiter may take before the request is refused with 503.
ACQUIRE_TIMEOUT_S = 0.5


def client_address(scope: dict[str, Any]) -> str:
    client = scope.get("client") or ("unknown", 0)
    return f"ip:{client[0]}"


def token_hash(scope: dict[str, Any]) -> str | None:
    scheme, _, token = (header(scope, "authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    return None


def bucket_for(scope: dict[str, Any]) -> str:
    digest = token_hash(scope)
    return f"key:{digest}" if digest else client_address(scope)


class RateLimitMiddleware:
    def __init__(self, app: Any, *, limiter: RateLimiter, limit: RateLimit | None,
                 timeout_s: float = ACQUIRE_TIMEOUT_S) -> None:
        self.app, self._limiter, self._limit, self._timeout = app, limiter, limit, timeout_s
        self._known: OrderedDict[str, None] = OrderedDict()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        limit = self._limit
        if limit is None or scope["type"] != "http" or scope["path"].startswith(UNLIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        digest = token_hash(scope)
        buckets = [f"key:{digest}"] if digest else []
        if digest is None or digest not in self._known:
            buckets.append(client_address(scope))
        try:
            decision = await self._acquire(buckets, limit)
        except ServiceUnavailable as exc:
            log.warning("rate_limit.unavailable", error=str(exc))
            reason = "the rate limiter is unavailable; retry shortly"
            await send_error(send, 503, ErrorDetail(type="unavailable", message=reason, reason=reason),
                             headers={"Retry-After": "1", **_headers(limit, None)})
            return
        headers = _headers(limit, decision)
        if not decision.allowed:
            reason = (f"more than {limit.per_minute} requests a minute (burst {limit.burst}) "
                      f"with this API key or from this address; retry in {decision.retry_after_s} s")
            await send_error(send, 429, ErrorDetail(type="rate_limited", message=reason,
                                                    field="Authorization", reason=reason),
                             headers={"Retry-After": str(decision.retry_after_s), **headers})
            return
        extra = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
                if digest is not None:
                    self._remember(digest, int(message["status"]) != 401)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _acquire(self, buckets: list[str], limit: RateLimit) -> RateDecision:
        """Take from every bucket; the most restrictive answer wins. A slow store is unavailable."""
        try:
            async with asyncio.timeout(self._timeout):
                decisions = [await self._limiter.acquire(b, limit) for b in buckets]
        except TimeoutError as exc:
            raise ServiceUnavailable("rate limiter did not answer in time") from exc
        refused = [d for d in decisions if not d.allowed]
        if refused:
            return max(refused, key=lambda d: d.retry_after_s)
        return min(decisions, key=lambda d: d.remaining)

    def _remember(self, digest: str, valid: bool) -> None:
        if not valid:
            self._known.pop(digest, None)
            return
        self._known[digest] = None
        self._known.move_to_end(digest)
        while len(self._known) > KNOWN_TOKENS:
            self._known.popitem(last=False)


def _headers(limit: RateLimit, decision: RateDecision | None) -> dict[str, str]:
    remaining = 0 if decision is None else decision.remaining
    reset = decision.retry_after_s if decision is not None and not decision.allowed else math.ceil(
        (limit.burst - remaining) / limit.per_second)
    window = math.ceil(limit.burst / limit.per_second)
    return {"RateLimit-Limit": str(limit.burst), "RateLimit-Remaining": str(remaining),
            "RateLimit-Reset": str(max(0, reset)), "RateLimit-Policy": f"{limit.burst};w={window}"}
