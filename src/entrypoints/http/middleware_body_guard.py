"""Bounds every request before a handler (or anything that stores) sees it (ADR 0080).

A raw ASGI middleware, outermost after the rate limiter:

- the path and the query string may not hold NUL or other control characters (Postgres
  refuses NUL in text, which used to surface as a 500 after validation);
- a JSON body may nest at most `MAX_JSON_DEPTH` levels (a 5,000-deep body exhausted msgspec's
  recursion and answered 500);
- a JSON body bound to a msgspec Struct is decoded *strictly* against it (`"n": "2"` is refused:
  Litestar's own conversion coerces strings to integers), so the first error names the field.

Every refusal is a 400 with the `ErrorBody` shape and `field` set.
"""

from __future__ import annotations

import re
import typing
from itertools import accumulate
from typing import Any
from urllib.parse import unquote_to_bytes

import msgspec

from domain.limits import MAX_JSON_DEPTH
from entrypoints.http.asgi_io import BodyTooLarge, header, read_body, replaying_receive, send_error
from entrypoints.http.schemas import ErrorDetail

_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_DEPTH = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_PATH = re.compile(r"`\$((?:\.[A-Za-z0-9_]+|\[\d+\])*)`")
_NO_DECODER = object()


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in `body` (strings skipped); 0 for a scalar."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0 if not (b"[" in body or b"{" in body) else 1  # too few brackets to go too deep
    brackets = _STRINGS.sub(b"", body).translate(None, delete=bytes(
        b for b in range(256) if b not in _DEPTH))
    return max(accumulate(_DEPTH[b] for b in brackets), default=0)


def field_of(message: str) -> str:
    """The top-level field a msgspec error message points at (`... - at `$.n``), else `body`."""
    match = _PATH.search(message)
    if not match or not match.group(1):
        return "body"
    first = match.group(1).lstrip(".")
    return re.split(r"[.\[]", first, maxsplit=1)[0] or "body"


def _reason(message: str) -> str:
    text = message.split(" - at `", 1)[0]
    if "matching regex" in text:
        return "control characters (NUL and others) or characters outside the allowed set are refused"
    return text


def _decoder_for(handler: Any, cache: dict[Any, Any]) -> Any:
    cached = cache.get(handler, None)
    if cached is not None:
        return cached
    decoder: Any = _NO_DECODER
    try:
        parameter = handler.parsed_fn_signature.parameters.get("data")
        annotation = parameter.annotation if parameter is not None else None
        if annotation is not None and typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
            decoder = msgspec.json.Decoder(annotation)
    except (AttributeError, TypeError):
        decoder = _NO_DECODER
    cache[handler] = decoder
    return decoder


def _refuse(field: str, reason: str) -> ErrorDetail:
    return ErrorDetail(type="invalid_request", message=f"{field}: {reason}", field=field, reason=reason)


class BodyGuardMiddleware:
    def __init__(self, app: Any, *, max_body_bytes: int) -> None:
        self.app, self._max_body = app, max_body_bytes
        self._decoders: dict[Any, Any] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
        if _CONTROL.search(unquote_to_bytes(raw_path)) or _CONTROL.search(scope["path"].encode(
                "utf-8", "surrogateescape")):
            await send_error(send, 400, _refuse("path", "control characters are refused"))
            return
        query = scope.get("query_string", b"")
        if query and _CONTROL.search(unquote_to_bytes(query.replace(b"+", b" "))):
            await send_error(send, 400, _refuse("query", "control characters are refused"))
            return
        content_type = (header(scope, "content-type") or "").lower()
        if scope["method"] not in ("POST", "PUT", "PATCH") or "json" not in content_type:
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, self._max_body)
        except BodyTooLarge:
            await send_error(send, 413, _refuse("body", f"larger than {self._max_body} bytes"))
            return
        if json_depth(body) > MAX_JSON_DEPTH:
            await send_error(send, 400, _refuse("body", f"JSON nested deeper than {MAX_JSON_DEPTH} levels"))
            return
        handler = scope.get("route_handler")
        decoder = _decoder_for(handler, self._decoders) if handler is not None else _NO_DECODER
        if decoder is not _NO_DECODER and body:
            try:
                decoder.decode(body)
            except msgspec.ValidationError as exc:
                await send_error(send, 400, _refuse(field_of(str(exc)), _reason(str(exc))))
                return
            except msgspec.DecodeError as exc:
                await send_error(send, 400, _refuse("body", f"not valid JSON: {exc}"))
                return
        await self.app(scope, replaying_receive(body, receive), send)
