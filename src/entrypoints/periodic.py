"""Periodic steps for a process's background loops: the async-provider reconciler.

`reconcile_step(container)` returns a step for `entrypoints.background.every` (or any loop):
it enqueues jobs that waited too long for a provider's webhook and prunes old deliveries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from entrypoints.container import AppContainer

log = structlog.get_logger("imagegen.reconciler")


def reconcile_step(container: AppContainer) -> Callable[[], Awaitable[int]]:
    """A loop step running `ReconcileAwaitingJobs` once; returns 0 so the loop then sleeps."""
    reconcile = container.use_cases.reconcile_awaiting_jobs()

    async def step() -> int:
        report = await reconcile()
        if report.resumed or report.pruned_deliveries:
            log.info("reconciler.ran", resumed=len(report.resumed),
                     pruned_deliveries=report.pruned_deliveries)
        return 0

    return step


async def reconcile_awaiting_jobs(container: AppContainer) -> int:
    """Run the reconciler once (for a loop of the caller's own); return the jobs enqueued."""
    report = await container.use_cases.reconcile_awaiting_jobs()()
    return len(report.resumed)
