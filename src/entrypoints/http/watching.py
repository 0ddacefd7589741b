"""Registration of the watching-and-interop routes (SSE, webhooks, OpenAI, metrics) in the app."""

from __future__ import annotations

from typing import Any

from litestar.di import Provide

from entrypoints.container import AppContainer
from entrypoints.http.routes_events import StreamSlots, job_events
from entrypoints.http.routes_openai import OpenAIImagesController
from entrypoints.http.routes_ops import metrics, readyz
from entrypoints.http.routes_webhooks import WebhooksController


def watching_handlers() -> list[Any]:
    """The route handlers this area adds to the app."""
    return [job_events, WebhooksController, OpenAIImagesController, metrics, readyz]


def _from(get: Any) -> Provide:
    async def provide() -> Any:
        return get()

    return Provide(provide, use_cache=True)


def watching_dependencies(container: AppContainer) -> dict[str, Provide]:
    """Named dependencies of those handlers, resolved from the container."""
    w = container.watching  # type: ignore[attr-defined]
    slots = StreamSlots(container.settings.sse_max_streams_per_key)
    return {
        "sse_slots": Provide(lambda: slots, use_cache=True, sync_to_thread=False),
        "job_event_source": _from(container.adapters.publisher),
        "task_queue": _from(container.adapters.queue),
        "create_webhook_endpoint": _from(w.create_endpoint),
        "list_webhook_endpoints": _from(w.list_endpoints),
        "delete_webhook_endpoint": _from(w.delete_endpoint),
        "rotate_webhook_secret": _from(w.rotate_secret),
        "list_webhook_deliveries": _from(w.list_deliveries),
        "list_delivery_attempts": _from(w.list_attempts),
        "ops_snapshot": _from(w.ops_snapshot),
        "broker_probe": _from(w.broker_probe),
        "prometheus": _from(w.metrics),
        "await_job": _from(w.await_job),
        "upload_input_image": _from(w.upload_image),
    }
