"""Per-API-key token-bucket rate limits on /v1, as a raw ASGI middleware: 429 + Retry-After.

The bucket is named by a hash of the bearer token (no database lookup per request); requests
without one share a bucket per client address. If the limiter's backend is down the request is
let through and a warning logged: limits protect capacity, they must not take the API down.
"""

from __future__ import annotations

import hashlib
from typing import Any

import structlog

from application.errors import ServiceUnavailable
from application.ports import RateLimiter
from domain.rate_limit import RateLimit
from entrypoints.http.asgi_io import header, send_error
from entrypoints.http.schemas import ErrorDetail

log = structlog.get_logger("imagegen.http.rate_limit")


def bucket_for(scope: dict[str, Any]) -> str:
    scheme, _, token = (header(scope, "authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return "key:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    client = scope.get("client") or ("unknown", 0)
    return f"ip:{client[0]}"


class RateLimitMiddleware:
    def __init__(self, app: Any, *, limiter: RateLimiter, limit: RateLimit | None) -> None:
        self.app, self._limiter, self._limit = app, limiter, limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self._limit is None or scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        try:
            decision = await self._limiter.acquire(bucket_for(scope), self._limit)
        except ServiceUnavailable as exc:
            log.warning("rate_limit.unavailable", error=str(exc))
            await self.app(scope, receive, send)
            return
        if not decision.allowed:
            reason = (f"more than {self._limit.per_minute} requests a minute (burst {self._limit.burst}) "
                      f"with this API key; retry in {decision.retry_after_s} s")
            await send_error(send, 429, ErrorDetail(type="rate_limited", message=reason,
                                                    field="Authorization", reason=reason),
                             headers={"Retry-After": str(decision.retry_after_s)})
            return
        await self.app(scope, receive, send)
