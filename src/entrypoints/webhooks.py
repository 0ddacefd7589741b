"""The provider-webhook receiver: POST /webhooks/{provider}, standalone or inside the API.

Answers: 200 with a small receipt for a verified delivery (also a duplicate, and one for a
prediction we do not know, so the provider stops retrying); 401 for a bad or stale
signature and 400 for malformed headers or body, with nothing changed; 404 for a provider
without a configured receiver; 503 when the database is down (the provider retries).
"""

from __future__ import annotations

import msgspec
import structlog
from litestar import Litestar, Request, Response, post
from litestar.params import FromPath

from application.errors import NotFound, ServiceUnavailable, WebhookRejected
from application.use_cases.handle_provider_callback import CallbackOutcome
from entrypoints.container import AppContainer, build_container
from entrypoints.settings import Settings

log = structlog.get_logger("imagegen.webhooks")

MAX_WEBHOOK_BYTES = 1024 * 1024


def _answer(status: int, body: dict[str, object]) -> Response[bytes]:
    return Response(content=msgspec.json.encode(body), status_code=status,
                    media_type="application/json")


@post("/webhooks/{provider:str}", status_code=200, tags=["webhooks"], summary="Provider callback",
      include_in_schema=True, security=[])
async def receive_provider_webhook(provider: FromPath[str], request: Request) -> Response[bytes]:
    """Verify and record one provider delivery; resume its job through the queue."""
    container: AppContainer = request.app.state.container
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        receipt = await container.use_cases.handle_provider_callback()(provider, headers, body)
    except WebhookRejected as exc:
        status = 400 if exc.malformed else 401
        log.warning("webhook.rejected", provider=provider, status=status, reason=exc.reason)
        kind = "invalid_webhook" if exc.malformed else "unauthorized"
        return _answer(status, {"error": {"type": kind, "message": exc.reason}})
    except NotFound:
        return _answer(404, {"error": {"type": "not_found",
                                       "message": f"no receiver for {provider}"}})
    except ServiceUnavailable as exc:
        log.warning("webhook.unavailable", provider=provider, error=str(exc))
        return _answer(503, {"error": {"type": "unavailable", "message": "retry later"}})
    unknown = receipt.outcome is CallbackOutcome.UNKNOWN_JOB
    log.info("webhook.unknown_job" if unknown else "webhook.received", provider=provider,
             outcome=receipt.outcome.value, delivery_id=receipt.delivery_id,
             provider_job_id=receipt.provider_job_id, job_id=receipt.job_id)
    return _answer(200, {"outcome": receipt.outcome.value, "jobId": receipt.job_id})


def create_webhooks_app(settings: Settings | None = None, container: AppContainer | None = None, *,
                        manage_container: bool = True) -> Litestar:
    """The standalone receiver (`imagegen webhooks`): only the webhook route and /healthz.

    In production it runs no worker (deliveries enqueue their job for the deployment's
    workers); on the embedded profile the in-process worker runs here, as nothing else would.
    """
    if container is None:
        container = build_container(settings or Settings.from_env())

    async def startup() -> None:
        await container.start(run_worker=container.settings.profile == "embedded")

    async def shutdown() -> None:
        await container.close()

    from entrypoints.http.app import healthz

    app = Litestar(route_handlers=[receive_provider_webhook, healthz],
                   on_startup=[startup] if manage_container else [],
                   on_shutdown=[shutdown] if manage_container else [],
                   request_max_body_size=MAX_WEBHOOK_BYTES)
    app.state.container = container
    return app
