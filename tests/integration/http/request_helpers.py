"""Helpers for the request-feature API tests: an app with chosen settings, and a job failer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path


from domain.failures import ErrorClass
from entrypoints.settings import Settings
from tests.integration.http.conftest import Api, running_api


@asynccontextmanager
async def api_with(tmp_path: Path, *, run_worker: bool = False, **overrides: object) -> AsyncIterator[Api]:
    """Like the `api` fixture, with settings overrides and (by default) no worker, so jobs stay
    queued until a test moves them."""
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path / "home")},
                                 public_base_url="http://testserver.local", **overrides)
    async with running_api(settings, run_worker=run_worker) as running:
        yield running


async def fail_job(api: Api, job_id: str, *, capture: int = 0) -> None:
    """Fail a queued job the way the worker would: settle its reservation, mark it failed."""
    clock = api.container.core.clock()
    async with api.container.adapters.uow() as uow:
        job = await uow.jobs.get(job_id)
        assert job is not None
        now = clock.now()
        job.start(now=now, worker_id="test", lease_expires_at=now)
        job.fail(now=now, error_class=ErrorClass.PROVIDER_UNAVAILABLE, message="boom",
                 charged_credits=capture)
        ledger = await uow.ledgers.load(job.state.user_id)
        if capture:
            ledger.capture(job_id, capture, now=now)
        else:
            ledger.release(job_id, now=now, reason="failed")
        await uow.jobs.save(job)
        await uow.ledgers.append(ledger)
        await uow.commit()
