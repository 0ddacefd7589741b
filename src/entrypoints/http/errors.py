"""One place mapping exceptions to HTTP answers, all with the `ErrorBody` shape."""

from __future__ import annotations

import msgspec
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from application.errors import (
    CommitOutcomeUnknown, ConcurrencyConflict, Forbidden, NotFound, ServiceUnavailable, Unauthorized,
)
from domain.errors import (
    InsufficientCredits, InvalidRequest, InvalidTransition, ReservationConflict, StorageQuotaExceeded,
)
from entrypoints.http.schemas import BalanceOut, ErrorBody, ErrorDetail

log = structlog.get_logger("imagegen.http")


_DESCRIPTIONS = {400: "Invalid request: `error.field` names what is wrong",
                 401: "Missing, unknown, revoked or expired API key", 402: "Not enough credits",
                 403: "This endpoint needs an admin API key", 404: "No such resource of the caller's",
                 409: "Conflict with the resource's state", 422: "Unprocessable request",
                 429: "Too many requests for this API key", 503: "A backing service is briefly down"}


def documented(*codes: int) -> dict[int, ResponseSpec]:
    """`responses=` for a handler: each code answered with an ErrorBody."""
    return {code: ResponseSpec(ErrorBody, description=_DESCRIPTIONS[code]) for code in codes}


def error_response(status: int, detail: ErrorDetail, headers: dict[str, str] | None = None) -> Response:
    """An ErrorBody answer carrying the request id (X-Request-Id) the middleware bound."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    if request_id and detail.request_id is None:
        detail = msgspec.structs.replace(detail, request_id=str(request_id))
    return Response(content=msgspec.json.encode(ErrorBody(error=detail)), status_code=status,
                    media_type="application/json", headers=headers)


def _invalid_request(_: Request, exc: InvalidRequest) -> Response:
    return error_response(400, ErrorDetail(type="invalid_request", message=str(exc), field=exc.field,
                                           reason=exc.reason))


def _validation(_: Request, exc: ValidationException) -> Response:
    extra = exc.extra if isinstance(exc.extra, list) and exc.extra else None
    if extra and isinstance(extra[0], dict):
        field = str(extra[0].get("key") or "body")
        reason = str(extra[0].get("message") or exc.detail)
        if field == "data":
            field = "body"
    else:
        field, reason = "body", str(exc.detail)
    return error_response(400, ErrorDetail(type="invalid_request", message=f"{field}: {reason}",
                                           field=field, reason=reason))


def _insufficient(_: Request, exc: InsufficientCredits) -> Response:
    return error_response(402, ErrorDetail(
        type="insufficient_credits", message=str(exc), field="credits",
        reason=f"this request needs {exc.requested} credits and {exc.available} are available",
        required=exc.requested,
        balance=BalanceOut(available=exc.available, reserved=exc.reserved,
                           lifetime_spent=exc.lifetime_spent)))


def _storage_quota(_: Request, exc: StorageQuotaExceeded) -> Response:
    return error_response(413, ErrorDetail(
        type="storage_quota_exceeded", message=str(exc), field="image",
        reason=f"{exc.incoming} more bytes do not fit: {exc.used} of {exc.limit} are used"))


def _not_found(_: Request, exc: NotFound) -> Response:
    return error_response(404, ErrorDetail(type="not_found", message=str(exc), field=f"{exc.kind}Id",
                                           reason="no such resource"))


def _conflict(_: Request, exc: Exception) -> Response:
    return error_response(409, ErrorDetail(type="conflict", message=str(exc), field="status",
                                           reason=str(exc)))


def _unauthorized(_: Request, exc: Unauthorized) -> Response:
    return error_response(401, ErrorDetail(type="unauthorized", message=str(exc), field="Authorization",
                                           reason=str(exc)), headers={"WWW-Authenticate": "Bearer"})


def _forbidden(_: Request, exc: Forbidden) -> Response:
    return error_response(403, ErrorDetail(type="forbidden", message=str(exc), field="Authorization",
                                           reason=str(exc)))


def _unavailable(_: Request, exc: Exception) -> Response:
    log.warning("http.unavailable", error=str(exc))
    return error_response(503, ErrorDetail(type="unavailable", message="the service is briefly unavailable; retry"),
                          headers={"Retry-After": "1"})


def _in_doubt(request: Request, exc: CommitOutcomeUnknown) -> Response:
    """503 as for any outage; the idempotency record (if any) is kept "in doubt" (ADR 0052)."""
    from entrypoints.http.middleware_idempotency import mark_in_doubt

    mark_in_doubt(request.scope)  # type: ignore[arg-type]
    log.warning("http.commit_in_doubt", error=str(exc))
    return error_response(503, ErrorDetail(
        type="unavailable", message="the outcome of this request is unknown; retry it with the "
        "same Idempotency-Key to get its result"), headers={"Retry-After": "1"})


def _http(request: Request, exc: HTTPException) -> Response:
    from entrypoints.http.request_context import request_id_of

    field = "body" if exc.status_code in (400, 413, 415) else None
    return error_response(exc.status_code, ErrorDetail(
        type="invalid_request" if field else "http_error", message=str(exc.detail), field=field,
        reason=str(exc.detail) if field else None, request_id=request_id_of(request.scope)),
        headers=exc.headers)


def _internal(_: Request, exc: Exception) -> Response:
    log.exception("http.internal_error", error_type=type(exc).__name__)
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, ErrorDetail(type="internal", message="internal error"))


EXCEPTION_HANDLERS = {
    InvalidRequest: _invalid_request,
    ValidationException: _validation,
    InsufficientCredits: _insufficient,
    StorageQuotaExceeded: _storage_quota,
    NotFound: _not_found,
    InvalidTransition: _conflict,
    ReservationConflict: _conflict,
    Unauthorized: _unauthorized,
    Forbidden: _forbidden,
    ServiceUnavailable: _unavailable,
    CommitOutcomeUnknown: _in_doubt,
    ConcurrencyConflict: _unavailable,
    HTTPException: _http,
    Exception: _internal,
}
