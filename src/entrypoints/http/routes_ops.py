"""Operations: Prometheus /metrics and /readyz (database and broker checks)."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from application.errors import ServiceUnavailable
from entrypoints.http.schemas import Api
from entrypoints.settings import Settings

PROBE_TIMEOUT_S = 2.0


def metrics_refusal(token: str, authorization: str) -> Response[bytes] | None:
    """None when `authorization` carries the metrics token; else 404 (no token configured:
    /metrics is absent) or 401 (ADR 0080)."""
    from entrypoints.http.errors import error_response
    from entrypoints.http.schemas import ErrorDetail

    if not token:
        return error_response(404, ErrorDetail(type="not_found", message="no metrics here",
                                               reason="set IMAGEGEN_METRICS_TOKEN to enable /metrics"))
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return error_response(401, ErrorDetail(type="unauthorized", message="metrics need the metrics token",
                                               field="Authorization", reason="bad or missing token"),
                              headers={"WWW-Authenticate": "Bearer"})
    return None


class Readiness(Api):
    status: str  # ready | unavailable
    database: str  # ok | the error
    broker: str
    models: str = "not checked yet"  # the catalog check: ok | missing: a, b | ... (never 503)


async def _database(ops_snapshot: Any) -> str:
    try:
        await asyncio.wait_for(ops_snapshot.ping(), PROBE_TIMEOUT_S)
    except (ServiceUnavailable, TimeoutError, OSError) as exc:
        return f"unavailable: {type(exc).__name__}"
    return "ok"


async def _broker(settings: Settings, queue: Any, probe: Any) -> str:
    if settings.profile == "embedded":
        return "ok" if getattr(queue, "alive", True) else "unavailable: in-process queue closed"
    return str(await probe.check())  # one client, cached ~2 s (ADR 0080)


@get("/readyz", tags=["operations"], summary="Readiness: database and broker",
     responses={503: ResponseSpec(Readiness, description="a dependency is down")})
async def readyz(settings: NamedDependency[Settings], ops_snapshot: NamedDependency[Any],
                 task_queue: NamedDependency[Any],
                 model_check: NamedDependency[Any], broker_probe: NamedDependency[Any]) -> Response[Readiness]:
    database, broker = await asyncio.gather(_database(ops_snapshot),
                                            _broker(settings, task_queue, broker_probe))
    ok = database == "ok" and broker == "ok"
    return Response(Readiness(status="ready" if ok else "unavailable", database=database, broker=broker,
                              models=model_check.report.summary()),
                    status_code=200 if ok else 503)


@get("/metrics", tags=["operations"], summary="Prometheus metrics", media_type="text/plain",
     response_description="Prometheus text exposition format 0.0.4",
     description="Needs `Authorization: Bearer <IMAGEGEN_METRICS_TOKEN>`; 404 when no token is set.")
async def metrics(request: Request[Any, Any, Any], settings: NamedDependency[Settings],
                  ops_snapshot: NamedDependency[Any], prometheus: NamedDependency[Any]) -> Response[bytes]:
    if (refused := metrics_refusal(settings.metrics_token, request.headers.get("authorization", ""))):
        return refused
    snapshot = await ops_snapshot.read()
    from adapters.metrics.prometheus import CONTENT_TYPE

    # the header is set whole: Litestar would append a second charset to a text/* media type
    return Response(prometheus.render(snapshot), media_type=CONTENT_TYPE, headers={"content-type": CONTENT_TYPE})
