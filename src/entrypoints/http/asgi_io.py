"""Small raw-ASGI helpers shared by the request middlewares: read a body, answer with JSON."""

from __future__ import annotations

from typing import Any

import msgspec

from entrypoints.http.schemas import ErrorBody, ErrorDetail

Scope = dict[str, Any]
Message = dict[str, Any]


class BodyTooLarge(Exception):
    """The request body is longer than the configured limit."""


async def read_body(receive: Any, limit: int) -> bytes:
    """The whole request body; `BodyTooLarge` past `limit` bytes (checked as it streams in)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replaying_receive(body: bytes, receive: Any) -> Any:
    """A `receive` that hands out `body` once, then defers to the real one (disconnects)."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # type: ignore[no-any-return]

    return receive_again


async def send_bytes(send: Any, status: int, body: bytes, content_type: str,
                     extra_headers: dict[str, str] | None = None) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in (extra_headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Any, status: int, detail: ErrorDetail,
                     headers: dict[str, str] | None = None) -> None:
    import structlog

    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id and detail.request_id is None:
        detail = msgspec.structs.replace(detail, request_id=str(request_id))
    await send_bytes(send, status, msgspec.json.encode(ErrorBody(error=detail)), "application/json", headers)


def header(scope: Scope, name: str) -> str | None:
    wanted = name.lower().encode()
    for key, value in scope.get("headers", []):
        if key.lower() == wanted:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None
