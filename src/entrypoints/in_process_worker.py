"""The embedded worker: the in-process queue runs ProcessGeneration with log context bound."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from entrypoints.job_log import log_processed

if TYPE_CHECKING:
    from entrypoints.container import AppContainer

log = structlog.get_logger("imagegen.worker")


async def bind_in_process_worker(container: AppContainer) -> None:
    """Point the in-process queue at ProcessGeneration and re-dispatch work left from before."""
    process = container.use_cases.process_job()
    resume = container.use_cases.resume_job()  # a job parked at an async provider (ADR 0024)

    async def run(job_id: str) -> None:
        with structlog.contextvars.bound_contextvars(job_id=job_id):
            state = await process(job_id) or await resume(job_id)
            if state is not None:
                log_processed(log, state)

    container.adapters.queue().bind(run)
    await container.use_cases.recover_jobs()(resend_all=True)  # the old queue died with its process
