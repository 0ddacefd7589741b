"""Issue 8 items 5 and 16: 200 concurrent submits on one account over HTTP queue on the
account's lock instead of racing a version check: every answer is 201 or 402, none 503, on
the embedded profile (SQLite, with the in-process worker completing jobs meanwhile) and on the
production profile (Postgres). Item 11: on SQLite a unit holding the write lock longer than the
5 s busy timeout delays a concurrent complete instead of failing it."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest

from adapters.persistence import ConflictGuard
from adapters.persistence.sqlalchemy.engine import SQLITE_BUSY_TIMEOUT_MS
from application.errors import ConcurrencyConflict
from application.commands import SubmitJob
from domain.jobs import JobStatus
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.integration.http.conftest import running_api
from tests.integration.production.conftest import empty_tables
from tests.integration.production.helpers import RecordingQueue, production_container, relay_everything
from tests.integration.services import require_redis

pytestmark = pytest.mark.integration

@pytest.fixture
def conflicts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every ConcurrencyConflict a unit of work records (a lost race that a retry hides)."""
    seen: list[str] = []
    original = ConflictGuard.record

    def record(self: ConflictGuard, exc: ConcurrencyConflict) -> ConcurrencyConflict:
        seen.append(str(exc))
        return original(self, exc)

    monkeypatch.setattr(ConflictGuard, "record", record)
    return seen


BURST = 200
CREDITS = 50  # `local` 64x64 costs 1 credit: 50 accepted, 150 refused


async def _burst(client: httpx.AsyncClient, headers: dict[str, str]) -> Counter[int]:
    answers = await asyncio.gather(*(
        client.post("/v1/jobs", json={"prompt": f"p{i}", "size": "64x64"}, headers=headers)
        for i in range(BURST)))
    return Counter(a.status_code for a in answers)


async def test_two_hundred_concurrent_submits_on_one_account_answer_201_or_402_on_sqlite(
        tmp_path: Path, conflicts: list[str]) -> None:
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path / "home")},
                                 public_base_url="http://testserver.local",
                                 rate_limit_per_minute=100_000, rate_limit_burst=BURST * 2)
    async with running_api(settings) as api:
        headers = await api.key_for("busy")
        await api.container.use_cases.grant_credits()("busy", CREDITS)
        codes = await _burst(api.client, headers)
        await api.settle()
        balance = await api.container.use_cases.get_balance()("busy")
        report = await api.container.use_cases.audit_ledger()("busy")
    assert codes == {201: CREDITS, 402: BURST - CREDITS}, codes
    assert [c for c in conflicts if "ledger" in c] == []  # they queued; none lost a race
    assert (balance.available, balance.reserved, balance.lifetime_spent) == (0, 0, CREDITS)
    assert report.ok, report


async def test_two_hundred_concurrent_submits_on_one_account_answer_201_or_402_on_postgres(
        migrated_postgres: str, tmp_path: Path, conflicts: list[str]) -> None:
    queue = RecordingQueue()
    container = production_container(
        migrated_postgres, tmp_path, queue=queue, redis_url=require_redis(), db_pool_size=20,
        db_max_overflow=0, rate_limit_per_minute=100_000, rate_limit_burst=BURST * 2,
        starter_credits=0)
    await empty_tables(container.adapters.engine())
    app = create_app(container=container, manage_container=False, run_worker=False)
    try:
        issued = await container.use_cases.create_api_key()("busy")
        await container.use_cases.grant_credits()("busy", CREDITS)
        headers = {"Authorization": f"Bearer {issued.secret}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://t") as client:
            codes = await _burst(client, headers)
        balance = await container.use_cases.get_balance()("busy")
        report = await container.use_cases.audit_ledger()("busy")
        await relay_everything(container)  # the API's relay sends what the submits committed
    finally:
        await container.close()
    assert codes == {201: CREDITS, 402: BURST - CREDITS}, codes
    assert conflicts == []  # they queued on the balance row; none lost a race and retried
    assert (balance.available, balance.reserved) == (0, CREDITS)
    assert len(queue.items) == CREDITS
    assert report.ok, report


async def test_a_write_lock_held_past_the_busy_timeout_delays_a_complete_instead_of_failing_it(
        tmp_path: Path) -> None:
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path / "home")},
                                 public_base_url="http://testserver.local")
    async with running_api(settings, run_worker=False) as api:
        cases = api.container.use_cases
        await cases.ensure_user()("u", starter_credits=10)
        submitted = await cases.submit_job()(SubmitJob(user_id="u", prompt="p", model="local",
                                                       size="64x64", n=1))
        holding = asyncio.Event()
        hold_s = SQLITE_BUSY_TIMEOUT_MS / 1000 + 1.5

        async def hold_the_write_lock() -> None:
            async with api.container.adapters.uow() as uow:
                ledger = await uow.ledgers.load("someone_else")
                ledger.grant(1, now=submitted.job.created_at)
                await uow.ledgers.append(ledger)  # a write: this unit holds SQLite's write lock
                holding.set()
                await asyncio.sleep(hold_s)
                await uow.commit()

        holder = asyncio.create_task(hold_the_write_lock())
        await holding.wait()
        started = asyncio.get_running_loop().time()
        state = await cases.process_job()(submitted.job.id)
        waited = asyncio.get_running_loop().time() - started
        await holder
        job = await cases.get_job()("u", submitted.job.id)
        stored = await api.container.adapters.storage().get(job.images[0].key)
        report = await cases.audit_ledger()("u")
    assert state is not None and state.status is JobStatus.COMPLETED
    assert waited >= hold_s - 0.5  # it queued behind the holder, past the busy timeout
    assert len(job.job.image_ids) == 1 and len(job.images) == 1
    assert stored[:8] == b"\x89PNG\r\n\x1a\n"  # the image was kept, not discarded
    assert report.ok, report
