"""Dramatiq actors. Import only through `entrypoints.worker`, which sets the broker first.

Dramatiq's own retries are off (`max_retries=0`): a job's retries follow the domain's policy,
counted in its row, and the reaper re-dispatches what a dead worker left behind.
"""

from __future__ import annotations

import dramatiq
import structlog

from adapters.tasks.dramatiq_queue import PROCESS_ACTOR
from entrypoints.job_log import log_processed
from entrypoints import worker_runtime

log = structlog.get_logger("imagegen.worker")

_settings = worker_runtime.container().settings


@dramatiq.actor(actor_name=PROCESS_ACTOR, queue_name=_settings.queue_name, max_retries=0,
                time_limit=_settings.job_time_limit_s * 1000,
                max_age=_settings.reservation_ttl_s * 1000)
async def process_generation(job_id: str) -> None:
    """Run ProcessGeneration for one job (a duplicate or stale message is skipped by its claim)."""
    with structlog.contextvars.bound_contextvars(job_id=job_id):
        cases = worker_runtime.container().use_cases
        # a job parked at an async provider is resumed instead (ADR 0024)
        state = await cases.process_job()(job_id) or await cases.resume_job()(job_id)
        if state is not None:
            log_processed(log, state)
