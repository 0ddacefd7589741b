"""X-Request-Id, the JSON access log and the HTTP metrics, for every request (ADR 0092).

The id is taken from the request's `X-Request-Id` when it is a sane token (at most 128 of
``A-Za-z0-9._:-``), else made (32 hex digits). It is bound in structlog's context (so every
log line of the request carries it), put in error bodies, and returned on every answer:
routed requests get it from the middleware, unrouted ones (404, 405) from the `before_send`
hook, which also writes their access line.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog

from entrypoints.http.asgi_io import header

HEADER = "x-request-id"
_VALID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_STATE = "request_id"
_LOGGED = "access_logged"

access_log = structlog.get_logger("imagegen.access")


def request_id_of(scope: dict[str, Any]) -> str:
    """The request's id: already chosen, else the client's valid header, else a new one."""
    state = scope.setdefault("state", {})
    rid = state.get(_STATE)
    if rid is None:
        given = header(scope, HEADER)
        rid = given if given is not None and _VALID.fullmatch(given) else uuid.uuid4().hex
        state[_STATE] = rid
    return rid  # type: ignore[no-any-return]


def _with_header(message: dict[str, Any], rid: str) -> None:
    headers = list(message.get("headers") or [])
    if not any(k.lower() == HEADER.encode() for k, _ in headers):
        headers.append((HEADER.encode(), rid.encode()))
    message["headers"] = headers


def _log(scope: dict[str, Any], route: str, status: int, seconds: float, metrics: Any) -> None:
    method = scope.get("method", "")
    if metrics is not None:
        metrics.observe_http(method, route, status, seconds)
    client = scope.get("client")
    extra = {"user_id": user} if (user := scope.get("state", {}).get("user_id")) else {}
    access_log.info("http.request", method=method, path=scope.get("path", ""), route=route,
                    status=status, duration_ms=round(seconds * 1000, 2),
                    client=client[0] if client else None, **extra)


def request_context_middleware(metrics: Any) -> Any:
    """A Litestar middleware factory: bind the id, time the request, log and count it."""

    def factory(app: Any) -> Any:
        async def middleware(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            rid = request_id_of(scope)
            scope["state"][_LOGGED] = True  # this middleware writes the access line
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(request_id=rid)
            started, status = time.perf_counter(), 500

            async def send_with_id(message: dict[str, Any]) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    _with_header(message, rid)
                await send(message)

            try:
                await app(scope, receive, send_with_id)
            finally:
                route = scope.get("path_template") or scope.get("path", "")
                _log(scope, route, status, time.perf_counter() - started, metrics)

        return middleware

    return factory


def before_send_hook(metrics: Any) -> Any:
    """Give unrouted answers (404, 405) their X-Request-Id and access line too."""

    async def before_send(message: dict[str, Any], scope: dict[str, Any]) -> None:
        if message["type"] != "http.response.start" or scope.get("type") != "http":
            return
        rid = request_id_of(scope)
        _with_header(message, rid)
        if not scope.get("state", {}).get(_LOGGED):
            scope["state"][_LOGGED] = True
            _log(scope, "unmatched", message["status"], 0.0, metrics)

    return before_send
