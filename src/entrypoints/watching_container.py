"""Wiring of watching and interop (ADR 0033-0035): client webhooks, metrics, the event fan-out.

`install_watching(app_container)` adds a `Watching` container beside the profile's adapters
and wraps the profile's `publisher` so every committed job event also feeds the metrics; the
outbox relay records client webhook deliveries from the `job.event` rows each unit of work
commits with its transitions (ADR 0051). Both profiles use it unchanged (SQL store, same engine);
the hub under the fan-out is whatever the profile's `publisher` is (in-process or Redis).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
from dependency_injector import containers, providers

from adapters.events.fan_out import FanOutJobEvents
from adapters.metrics.prometheus import PrometheusMetrics
from adapters.net.address_guard import AddressGuard
from adapters.persistence.sqlalchemy.client_webhooks import SqlAlchemyWebhookStore
from adapters.persistence.sqlalchemy.ops_snapshot import CachedOpsSnapshot, SqlAlchemyOpsSnapshot
from adapters.tasks.broker_probe import RedisBrokerProbe
from adapters.webhooks.httpx_sender import HttpxWebhookSender
from application.use_cases.await_job import AwaitJob
from application.use_cases.deliver_webhooks import DeliverWebhooks
from application.use_cases.record_webhook_events import RecordWebhookEvents
from application.use_cases.sweep_uploads import SweepUploads
from application.use_cases.upload_input_image import UploadInputImage
from application.use_cases.webhook_deliveries import ListDeliveryAttempts, ListWebhookDeliveries
from application.use_cases.webhook_endpoints import (
    CreateWebhookEndpoint, DeleteWebhookEndpoint, ListWebhookEndpoints, RotateWebhookSecret,
)
from entrypoints.background import BackgroundLoops

if TYPE_CHECKING:
    from entrypoints.container import AppContainer


class Watching(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()
    adapters = providers.DependenciesContainer()

    webhook_store = providers.Singleton(SqlAlchemyWebhookStore, adapters.engine)
    url_guard = providers.Singleton(AddressGuard, allow_hosts=core.settings.provided.webhook_allow_hosts)
    webhook_http = providers.Singleton(httpx.AsyncClient, timeout=15.0)  # closed by close_watching
    webhook_sender = providers.Singleton(HttpxWebhookSender, webhook_http, url_guard)
    metrics = providers.Singleton(PrometheusMetrics)
    ops_snapshot = providers.Singleton(CachedOpsSnapshot, providers.Singleton(SqlAlchemyOpsSnapshot,
                                                                             adapters.engine),
                                       ttl_s=core.settings.provided.metrics_snapshot_ttl_s)
    broker_probe = providers.Singleton(RedisBrokerProbe, core.settings.provided.redis_url)  # /readyz

    create_endpoint = providers.Singleton(CreateWebhookEndpoint, store=webhook_store, guard=url_guard,
                                          clock=core.clock, ids=core.ids)
    list_endpoints = providers.Singleton(ListWebhookEndpoints, store=webhook_store)
    delete_endpoint = providers.Singleton(DeleteWebhookEndpoint, store=webhook_store)
    rotate_secret = providers.Singleton(RotateWebhookSecret, store=webhook_store, clock=core.clock,
                                        overlap_s=core.settings.provided.webhook_secret_overlap_s)
    record_events = providers.Singleton(RecordWebhookEvents, store=webhook_store, clock=core.clock,
                                        ids=core.ids, cache_s=core.settings.provided.webhook_endpoint_cache_s)
    deliver = providers.Singleton(DeliverWebhooks, store=webhook_store, sender=webhook_sender,
                                  clock=core.clock)
    list_deliveries = providers.Singleton(ListWebhookDeliveries, store=webhook_store)
    list_attempts = providers.Singleton(ListDeliveryAttempts, store=webhook_store)
    await_job = providers.Singleton(AwaitJob, uow=adapters.uow.provider, events=adapters.publisher,
                                    clock=core.clock)
    sweep_uploads = providers.Singleton(SweepUploads, uow=adapters.uow.provider, storage=adapters.storage,
                                        clock=core.clock, grace_s=core.settings.provided.upload_grace_s)
    upload_image = providers.Singleton(UploadInputImage, uow=adapters.uow.provider,
                                       storage=adapters.storage, inspector=adapters.inspector,
                                       clock=core.clock, ids=core.ids)


def _meter_providers(container: AppContainer, metrics: PrometheusMetrics) -> None:
    """Every provider call timed and counted by provider and model (ADR 0092), built lazily."""
    from adapters.image_providers.registry import StaticProviderRegistry
    from adapters.metrics.metered_provider import MeteredProviderRegistry
    from entrypoints.container import provider_map

    adapters = container.adapters

    def build() -> MeteredProviderRegistry:
        inner = StaticProviderRegistry(provider_map(container.settings, container.core.clock(),
                                                    adapters.http_client()))
        return MeteredProviderRegistry(inner, metrics)

    adapters.image_providers.override(providers.Singleton(build))


def install_watching(container: AppContainer) -> AppContainer:
    """Attach `container.watching` and wrap `adapters.publisher` in the fan-out."""
    watching = Watching(core=container.core, adapters=container.adapters)
    hub = container.adapters.publisher()
    # Client webhooks are recorded from the outbox by the relay (ADR 0051), not from the fan-out.
    fan_out = FanOutJobEvents(hub, [watching.metrics().observe_events,
                                    lambda events: container.use_cases.job_previews()
                                    .clear_finished(events)])  # previews end with the job (ADR 0072)
    container.adapters.publisher.override(providers.Object(fan_out))
    container.use_cases.relay_outbox.add_kwargs(on_events=watching.record_events.provided.from_outbox)
    _meter_providers(container, watching.metrics())
    container.watching = watching  # type: ignore[attr-defined]
    container.watching_loops = BackgroundLoops()  # type: ignore[attr-defined]
    return container


def start_watching_loops(container: AppContainer) -> None:
    """Deliver due webhooks every `webhook_delivery_interval_s` on the running loop (the process
    that runs the worker: `serve` in embedded, `imagegen worker` in production)."""
    watching = container.watching  # type: ignore[attr-defined]

    async def deliver() -> int:
        return (await watching.deliver()()).attempted

    container.watching_loops.start(  # type: ignore[attr-defined]
        "webhooks", container.settings.webhook_delivery_interval_s, deliver)
    sweep = watching.sweep_uploads()
    container.watching_loops.start(  # type: ignore[attr-defined]
        "uploads", max(1.0, min(300.0, container.settings.upload_grace_s / 4)), sweep)


async def close_watching(container: AppContainer) -> None:
    watching = getattr(container, "watching", None)
    if watching is None:
        return
    await container.watching_loops.stop()  # type: ignore[attr-defined]
    await watching.deliver().stop()  # attempts left running by the last pass (ADR 0085)
    await watching.webhook_http().aclose()
    await watching.broker_probe().close()
