"""Issue 8, case 15: a commit reported as failed may have committed. The answer is 503, the
idempotency record is kept "in doubt", and a retry with the same key finds the job the first
attempt made (its id derived from the key) instead of making a second one and charging twice.

The fault is injected through the real SQL unit of work: the COMMIT succeeds, then the
connection "drops" (`ConnectionResetError`), as a server restarting at that moment would do.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from dependency_injector import providers

from adapters.persistence.sqlalchemy.uow import CommitFaults, SqlAlchemyUnitOfWorkFactory
from application.errors import ServiceUnavailable
from domain.jobs import JobStatus, JobStatusChanged
from tests.integration.http.request_helpers import api_with

pytestmark = pytest.mark.integration

JOB = {"prompt": "in doubt", "size": "64x64"}


def drop_connection_after_the_first_submit(api) -> list[str]:  # type: ignore[no-untyped-def]
    dropped: list[str] = []

    async def after_commit(events: Sequence[JobStatusChanged]) -> None:
        if not dropped and any(e.status is JobStatus.QUEUED for e in events):
            dropped.append(events[0].job_id)
            raise ConnectionResetError("connection reset by peer during COMMIT")

    adapters = api.container.adapters
    factory = SqlAlchemyUnitOfWorkFactory(adapters.engine(), signal=adapters.outbox_signal(),
                                          faults=CommitFaults(after_commit=after_commit))
    adapters.uow.override(providers.Callable(factory))
    return dropped


async def test_a_retry_after_an_ambiguous_commit_returns_the_committed_job_and_charges_once(
        tmp_path: Path) -> None:
    async with api_with(tmp_path) as api:
        headers = await api.key_for("alice", credits=10)
        dropped = drop_connection_after_the_first_submit(api)
        keyed = {**headers, "Idempotency-Key": "order-in-doubt"}
        first = await api.client.post("/v1/jobs", json=JOB, headers=keyed)
        retry = await api.client.post("/v1/jobs", json=JOB, headers=keyed)
        replay = await api.client.post("/v1/jobs", json=JOB, headers=keyed)
        other = await api.client.post("/v1/jobs", json={**JOB, "prompt": "other"}, headers=keyed)
        jobs = (await api.client.get("/v1/jobs", headers=headers)).json()["items"]
        events = (await api.client.get("/v1/credits/events", headers=headers)).json()["items"]
        balance = (await api.client.get("/v1/credits", headers=headers)).json()
    assert first.status_code == 503 and first.headers["retry-after"] == "1"
    assert retry.status_code == 201, retry.text
    assert retry.json()["id"] == dropped[0]  # the job the ambiguous commit did make
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == retry.json()
    assert other.status_code == 422  # the key still belongs to the first request
    assert [j["id"] for j in jobs] == dropped
    assert [e["type"] for e in events].count("credits_reserved") == 1
    assert balance == {"available": 9, "reserved": 1, "lifetimeSpent": 0}


async def test_a_plain_outage_still_releases_the_key(tmp_path: Path) -> None:
    async with api_with(tmp_path) as api:
        headers = await api.key_for("alice", credits=10)

        async def refuse(events: Sequence[JobStatusChanged]) -> None:
            if any(e.status is JobStatus.QUEUED for e in events):
                raise ServiceUnavailable("database down before COMMIT")

        adapters = api.container.adapters
        adapters.uow.override(providers.Callable(SqlAlchemyUnitOfWorkFactory(
            adapters.engine(), faults=CommitFaults(before_commit=refuse))))
        keyed = {**headers, "Idempotency-Key": "order-down"}
        down = await api.client.post("/v1/jobs", json=JOB, headers=keyed)
        adapters.uow.reset_override()
        up = await api.client.post("/v1/jobs", json={**JOB, "prompt": "changed"}, headers=keyed)
    assert down.status_code == 503
    assert up.status_code == 201  # nothing was kept under the key: a new request may use it
