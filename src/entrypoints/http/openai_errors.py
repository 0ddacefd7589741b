"""Errors of the OpenAI-compatible routes in OpenAI's shape, with statuses its SDK maps well.

`{"error": {"message", "type", "param", "code"}}`. Insufficient credits answer 429 with type
and code `insufficient_quota` (what OpenAI sends when an account is out of credit), so the
official SDK raises `openai.RateLimitError` whose `.code == "insufficient_quota"`; the
`x-should-retry: false` header stops the SDK from retrying it (ADR 0035).
"""

from __future__ import annotations

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

from application.errors import (
    CommitOutcomeUnknown, ConcurrencyConflict, Forbidden, NotFound, ServiceUnavailable, Unauthorized,
)
from domain.errors import InsufficientCredits, InvalidRequest, StorageQuotaExceeded

log = structlog.get_logger("imagegen.openai")


class OpenAIErrorDetail(msgspec.Struct, kw_only=True):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIError(msgspec.Struct, kw_only=True):
    error: OpenAIErrorDetail


def openai_error(status: int, message: str, type_: str, *, param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None) -> Response[bytes]:
    body = msgspec.json.encode(OpenAIError(error=OpenAIErrorDetail(
        message=message, type=type_, param=param, code=code)))
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _invalid(_: Request, exc: InvalidRequest) -> Response[bytes]:
    return openai_error(400, str(exc), "invalid_request_error", param=exc.field)


def _validation(_: Request, exc: ValidationException) -> Response[bytes]:
    extra = exc.extra if isinstance(exc.extra, list) and exc.extra else None
    param = str(extra[0].get("key")) if extra and isinstance(extra[0], dict) and extra[0].get("key") else None
    return openai_error(400, str(exc.detail), "invalid_request_error", param=param)


def _credits(_: Request, exc: InsufficientCredits) -> Response[bytes]:
    return openai_error(
        429, f"You exceeded your current quota: this request needs {exc.requested} credits and "
             f"{exc.available} are available.", "insufficient_quota", code="insufficient_quota",
        headers={"x-should-retry": "false"})


def _storage_quota(_: Request, exc: StorageQuotaExceeded) -> Response[bytes]:
    return openai_error(413, f"Storage quota exceeded: {exc}", "invalid_request_error", param="image",
                        code="storage_quota_exceeded", headers={"x-should-retry": "false"})


def _unauthorized(_: Request, exc: Unauthorized) -> Response[bytes]:
    return openai_error(401, f"Incorrect API key provided: {exc}", "invalid_request_error",
                        code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})


def _forbidden(_: Request, exc: Forbidden) -> Response[bytes]:
    return openai_error(403, str(exc), "invalid_request_error", code="forbidden")


def _not_found(_: Request, exc: NotFound) -> Response[bytes]:
    return openai_error(404, str(exc), "invalid_request_error", param=f"{exc.kind}", code="not_found")


def _unavailable(_: Request, exc: Exception) -> Response[bytes]:
    log.warning("openai.unavailable", error=str(exc))
    return openai_error(503, "The service is briefly unavailable; retry.", "server_error",
                        headers={"Retry-After": "1"})


def _in_doubt(request: Request, exc: CommitOutcomeUnknown) -> Response[bytes]:
    from entrypoints.http.middleware_idempotency import mark_in_doubt

    mark_in_doubt(request.scope)  # type: ignore[arg-type]
    log.warning("openai.commit_in_doubt", error=str(exc))
    return openai_error(503, "The outcome of this request is unknown; retry it with the same "
                             "Idempotency-Key.", "server_error", headers={"Retry-After": "1"})


def _http(_: Request, exc: HTTPException) -> Response[bytes]:
    type_ = "invalid_request_error" if exc.status_code < 500 else "server_error"
    return openai_error(exc.status_code, str(exc.detail), type_, headers=exc.headers)


def _internal(_: Request, exc: Exception) -> Response[bytes]:
    log.exception("openai.internal_error", error_type=type(exc).__name__)
    return openai_error(500, "The server had an error while processing your request.", "server_error")


OPENAI_EXCEPTION_HANDLERS = {
    InvalidRequest: _invalid,
    ValidationException: _validation,
    InsufficientCredits: _credits,
    StorageQuotaExceeded: _storage_quota,
    Unauthorized: _unauthorized,
    Forbidden: _forbidden,
    NotFound: _not_found,
    ServiceUnavailable: _unavailable,
    CommitOutcomeUnknown: _in_doubt,
    ConcurrencyConflict: _unavailable,
    HTTPException: _http,
    Exception: _internal,
}
