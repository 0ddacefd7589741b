"""Contract suites: one abstract class per port, subclassed once per adapter.

A backend supplies the `uow_factory` fixture (a fresh, empty store per test) and, for the
outage test, `broken_uow_factory`; every test then runs unchanged on memory, SQLite and
Postgres. The builders below make domain values with every field set.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from application.ports import UnitOfWork, UnitOfWorkFactory
from domain.jobs import FailureStage, Job, JobState, JobStatus

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


class PersistenceContract:
    """Base of the contracts: `self.make_uow()` opens a unit on the backend under test."""

    @pytest.fixture
    def uow_factory(self) -> UnitOfWorkFactory:
        raise NotImplementedError("a backend subclass provides the uow_factory fixture")

    @pytest.fixture(autouse=True)
    def _bind_backend(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    def make_uow(self) -> UnitOfWork:
        return self._uow_factory()


def at(seconds: float) -> datetime:
    """`T0` plus `seconds`."""
    return T0 + timedelta(seconds=seconds)


def job_state(job_id: str, *, user_id: str = "user_1", created_at: datetime = T0,
              **changes: Any) -> JobState:
    """A fresh queued job; `changes` override any field."""
    state = JobState(id=job_id, user_id=user_id, prompt="a lighthouse at dusk", model="sdxl",
                     provider="local", width=64, height=64, n=1, created_at=created_at,
                     updated_at=created_at)
    return msgspec.structs.replace(state, **changes)


def queued_job(job_id: str, **kwargs: Any) -> Job:
    return Job.submit(job_state(job_id, **kwargs))


def job_with_every_field(job_id: str) -> JobState:
    """A job whose every optional field differs from its default."""
    return job_state(
        job_id, user_id="user_full", prompt="ünïcode prompt ✓ with 'quotes'", model="flux-pro",
        provider="replicate", width=1024, height=768, n=3, created_at=at(0), updated_at=at(9),
        status=JobStatus.FAILED, seed=2**40, project_id="proj_1", parent_job_id="job_parent",
        kind="edit", estimated_credits=12, charged_credits=3, provider_cost_micros=45_000,
        attempts=2, progress_percent=15, current_step="Generating the image",
        error_class="timeout", error_message="provider timed out",
        failure_stage=FailureStage.GENERATING,
        provider_job_id="prov_9", worker_id="worker_a", lease_expires_at=at(60),
        next_attempt_at=at(30), started_at=at(1), generating_at=at(2), uploading_at=at(3),
        completed_at=at(4), failed_at=at(5), cancelled_at=at(6),
        image_ids=("img_1", "img_2"), input_image_ids=("img_in",), mask_image_id="img_mask",
    )
