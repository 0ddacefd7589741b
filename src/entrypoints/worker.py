"""The Dramatiq worker module (``dramatiq entrypoints.worker``; `imagegen worker` runs that).

Importing it, once in each worker process: read settings, build this process's container, add
the AsyncIO middleware and our lifecycle middleware to the container's Redis broker, set it as
Dramatiq's broker, and only then import the actors (they bind to the broker set at import).
Each process also runs the outbox relay and the reaper on its event-loop thread.
"""

from __future__ import annotations

import asyncio

import dramatiq
import structlog
from dramatiq.asyncio import get_event_loop_thread
from dramatiq.middleware import AsyncIO, Middleware

from entrypoints import worker_runtime
from entrypoints.container import AppContainer, build_container
from entrypoints.logging import configure_logging
from entrypoints.settings import Settings

log = structlog.get_logger("imagegen.worker")


class ContainerLifecycle(Middleware):
    """Starts the relay and reaper loops after boot and closes the container at shutdown, both
    on the AsyncIO middleware's event loop (where the actors and the database pool live)."""

    def __init__(self, container: AppContainer) -> None:
        self.container = container

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        async def start() -> None:
            from entrypoints.watching_container import start_watching_loops

            from entrypoints.model_check import start_model_check

            self.container.start_background(relay=True, reaper=True, reconcile=True)
            start_model_check(self.container.settings, self.container.core.model_check())
            self.container.start_heartbeat(worker.worker_threads)  # the ETA's capacity (ADR 0092)
            start_watching_loops(self.container)  # outgoing client webhooks (ADR 0034)

        self._run(start(), timeout_s=10)
        log.info("worker.started", worker_id=self.container.settings.worker_id)

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._run(self.container.close(), timeout_s=30)

    @staticmethod
    def _run(coro, *, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
        loop = get_event_loop_thread().loop  # type: ignore[union-attr]
        asyncio.run_coroutine_threadsafe(coro, loop).result(timeout_s)


def _boot() -> AppContainer:
    settings = Settings.from_env()
    configure_logging(settings)
    container = build_container(settings)
    broker = container.adapters.queue().broker
    broker.add_middleware(AsyncIO())
    broker.add_middleware(ContainerLifecycle(container))
    dramatiq.set_broker(broker)
    worker_runtime.set_container(container)
    return container


CONTAINER = _boot()

from entrypoints import actors  # noqa: F401  (after set_broker, on purpose)
