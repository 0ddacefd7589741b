"""The app factory each supervised API process imports (`IMAGEGEN_API_WORKERS` > 1, ADR 0060)."""

from __future__ import annotations

from litestar import Litestar

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.http.server import configure_timeouts
from entrypoints.logging import configure_logging
from entrypoints.settings import Settings


def production_app() -> Litestar:
    """One API process of the production profile: its own container, outbox relay and pool."""
    settings = Settings.from_env()
    configure_logging(settings)
    configure_timeouts(settings)
    container = build_container(settings)
    app = create_app(settings, container=container, run_worker=False)

    async def start_relay() -> None:  # the loops start in create_app's lifespan (ADR 0091)
        from entrypoints.model_check import start_model_check

        start_model_check(settings, container.core.model_check())  # each process logs its own

    app.on_startup.append(start_relay)
    return app

