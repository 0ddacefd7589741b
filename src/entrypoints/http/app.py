"""The Litestar app factory. The container is built here (or passed in by tests), never at import."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Litestar, Request, get
from litestar.di import Provide
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from entrypoints.container import AppContainer, build_container
from entrypoints.http.auth import principal_provider
from entrypoints.http.errors import EXCEPTION_HANDLERS
from entrypoints.http.routes_admin_keys import AdminKeysController
from entrypoints.http.routes_account import read_balance, read_image
from entrypoints.http.routes_console import console_dependencies, console_handlers
from entrypoints.http.routes_files import read_file
from entrypoints.http.routes_jobs import JobsController
from entrypoints.http.request_features import HANDLERS as REQUEST_HANDLERS  # batches, stats, admin...
from entrypoints.http.request_features import request_dependencies, request_middleware
from entrypoints.http.schemas import Health
from entrypoints.http.watching import watching_dependencies, watching_handlers  # SSE, webhooks, OpenAI, metrics
from entrypoints.settings import Settings
from entrypoints.webhooks import receive_provider_webhook

MAX_BODY_BYTES = 1024 * 1024


@get("/healthz", tags=["operations"], summary="Liveness")
async def healthz() -> Health:
    return Health(status="ok")


def _use_case(container: AppContainer, name: str) -> Provide:
    provider = getattr(container.use_cases, name)

    async def provide() -> Any:
        return provider()

    return Provide(provide, use_cache=True)


def create_app(settings: Settings | None = None, *, container: AppContainer | None = None,
               run_worker: bool = True, manage_container: bool = True) -> Litestar:
    """Build the API. With `run_worker` the embedded in-process worker starts with the app.

    A caller that starts and closes the container itself (tests, on their own event loop)
    passes `manage_container=False`.
    """
    if container is None:
        container = build_container(settings or Settings.from_env())
    use_cases = ["submit_job", "get_job", "list_jobs", "cancel_job", "get_balance", "get_image",
                 "list_api_keys", "create_api_key", "revoke_api_key", "rotate_api_key"]
    dependencies: dict[str, Provide] = {name: _use_case(container, name) for name in use_cases}
    dependencies["principal"] = Provide(principal_provider(container.use_cases.authenticate()))
    dependencies["clock"] = Provide(lambda: container.core.clock(), use_cache=True, sync_to_thread=False)
    dependencies["settings"] = Provide(lambda: container.settings, use_cache=True, sync_to_thread=False)
    dependencies["storage"] = Provide(lambda: container.adapters.storage(), use_cache=True,
                                      sync_to_thread=False)
    dependencies["job_previews"] = Provide(lambda: container.use_cases.job_previews(), use_cache=True,
                                           sync_to_thread=False)
    dependencies["model_check"] = Provide(lambda: container.core.model_check(), use_cache=True,
                                          sync_to_thread=False)
    dependencies.update(watching_dependencies(container))
    dependencies.update(request_dependencies(container))
    dependencies.update(console_dependencies(container))  # GET /console, /v1/models, /v1/uploads

    async def startup() -> None:
        await container.start(run_worker=run_worker)
        if run_worker:  # the embedded process delivers client webhooks too (ADR 0034)
            from entrypoints.watching_container import start_watching_loops

            start_watching_loops(container)
        # the relay, reaper, reconciler and retention loops, by IMAGEGEN_LOOPS (ADR 0091), so
        # `uvicorn --factory entrypoints.http.app:create_app` runs them as `imagegen serve` does
        loops = container.start_configured_loops()
        structlog.get_logger("imagegen.http").info("app.loops_started", loops=loops)

    async def shutdown() -> None:
        await container.close()

    def bind_request_context(request: Request) -> None:  # the middleware bound request_id already
        structlog.contextvars.bind_contextvars(path=request.url.path)

    from entrypoints.http.request_context import before_send_hook, request_context_middleware

    metrics = container.watching.metrics()  # type: ignore[attr-defined]

    from entrypoints.http.openapi_docs import local_docs, operation_id

    render_plugins, docs_assets = local_docs()
    app = Litestar(
        route_handlers=[JobsController, read_balance, read_image, read_file, healthz,
                        *watching_handlers(), *REQUEST_HANDLERS, *console_handlers(),
                        AdminKeysController,
                        receive_provider_webhook,  # provider callbacks (ADR 0025)
                        docs_assets],  # Swagger UI's files, served here (no CDN; ADR 0094)
        # request id, access log and HTTP metrics outermost; then rate limits, Idempotency-Key
        middleware=[request_context_middleware(metrics), *request_middleware(container)],
        before_send=[before_send_hook(metrics)],
        dependencies=dependencies,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        on_startup=[startup] if manage_container else [],
        on_shutdown=[shutdown] if manage_container else [],
        before_request=bind_request_context,
        request_max_body_size=container.settings.max_body_bytes,
        logging_config=None,  # entrypoints.logging owns the root logger (structlog, ADR 0092)
        openapi_config=OpenAPIConfig(
            title="imagegen", version="0.1.0", path="/schema",
            render_plugins=render_plugins, operation_id_creator=operation_id,
            components=Components(security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer", description="API key")}),
            security=[{"bearer": []}]),
    )
    app.state.container = container
    from entrypoints.http.openapi_docs import (
        document_common_answers, document_edits_body, document_error_bodies,
        document_outgoing_webhooks, document_request_headers,
    )

    document_error_bodies(app)  # 400 bodies as sent; the webhooks we send (ADR 0034-0035)
    document_outgoing_webhooks(app)
    document_request_headers(app)  # Idempotency-Key, 409/422, rate limit 429 (ADR 0030-0031)
    document_common_answers(app)  # 402/404/503 (ADR 0094)
    document_edits_body(app)
    return app

