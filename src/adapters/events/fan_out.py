"""A JobEventPublisher that feeds the hub, then listeners (webhook recorder, metrics).

Listeners are best effort: a failing listener is logged and never fails the use case that
published (its changes are committed already). Subscriptions go to the hub.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import structlog

from application.ports import JobEventPublisher, JobEventSubscriber
from domain.jobs import JobStatusChanged
from domain.previews import JobPreviewReady

Listener = Callable[[Sequence[JobStatusChanged]], Awaitable[Any]]
log = structlog.get_logger("imagegen.events")


class FanOutJobEvents(JobEventPublisher, JobEventSubscriber):
    def __init__(self, hub: Any, listeners: Sequence[Listener]) -> None:
        """`hub` publishes and subscribes (InProcessJobEvents or RedisJobEvents)."""
        self.hub = hub
        self._listeners = list(listeners)

    async def publish(self, events: Sequence[JobStatusChanged | JobPreviewReady]) -> None:
        """Hand committed events to the hub and every listener; one failing (Redis down, say)
        neither fails the caller, whose transaction is already committed, nor starves the rest.
        Listeners see status changes only; previews go to the hub's watchers (ADR 0072)."""
        changes = [e for e in events if isinstance(e, JobStatusChanged)]
        for listener in (self.hub.publish, *self._listeners):
            try:
                await listener(events if listener == self.hub.publish else changes)
            except Exception as exc:  # committed already; a listener must not fail the caller
                log.warning("events.listener_failed", listener=getattr(listener, "__qualname__", "?"),
                            error=f"{type(exc).__name__}: {exc}")

    def subscribe(self, job_id: str | None = None) -> AbstractAsyncContextManager[
            asyncio.Queue[JobStatusChanged]]:
        return self.hub.subscribe(job_id)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:  # close(), etc. of the hub
        return getattr(self.hub, name)
