"""The job engine on the real SQLAlchemy adapters (SQLite file, or Postgres), with fault seams.

`Engine` wires the real use cases over `SqlAlchemyUnitOfWorkFactory` with `CommitFaults` (faults
around a commit), a `WatchedStorage` wrapper over the local-disk adapter (records puts and
deletes, can hold a put), a `GatedProvider` (a provider call that waits until the test lets it
answer, so two attempts can overlap), a fake clock and a recording queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.clock import FakeClock
from adapters.events.in_process import InProcessJobEvents
from adapters.ids import UlidIdGenerator
from adapters.image_providers.local import LocalImageProvider
from adapters.image_providers.registry import StaticProviderRegistry
from adapters.images.inspector import PillowImageInspector
from adapters.persistence.sqlalchemy import create_engine, create_schema
from adapters.persistence.sqlalchemy.uow import CommitFaults, SqlAlchemyUnitOfWorkFactory
from adapters.storage.local_disk import LocalDiskObjectStorage
from application.commands import SubmitJob
from application.errors import ProviderUnreachable
from application.ports import ProviderRequest, ProviderResult
from application.use_cases.audit_ledger import AuditLedger
from application.use_cases.cancel_job import CancelJob
from application.use_cases.credits import GrantCredits
from application.use_cases.process_generation import ProcessGeneration
from application.use_cases.recover_jobs import RecoverJobs
from application.use_cases.resume_awaiting_job import ResumeAwaitingJob
from application.use_cases.settle_failure import FailOrRetry
from application.use_cases.submit_generation import SubmitGeneration
from domain.catalog import ModelCatalog
from domain.failures import JobFailure, RefundPolicy
from domain.jobs import JobState
from domain.pricing import ModelSpec
from domain.retry import RetryPolicy

MODELS = [
    ModelSpec(name="local", provider="local", credits_per_image=2, max_n=4),
    ModelSpec(name="gated", provider="gated", credits_per_image=2, max_n=4),
    ModelSpec(name="async", provider="async", credits_per_image=3, max_n=4),
]
LEASE_S = 60


class RecordingQueue:
    def __init__(self) -> None:
        self.items: list[tuple[str, float]] = []

    async def enqueue(self, job_id: str, *, delay_s: float = 0.0) -> None:
        self.items.append((job_id, delay_s))


class WatchedStorage:
    """The local-disk adapter, recording puts and deletes; `hold_puts` makes puts wait."""

    def __init__(self, inner: LocalDiskObjectStorage) -> None:
        self.inner = inner
        self.puts: list[str] = []
        self.deletes: list[str] = []
        self.hold_puts: asyncio.Event | None = None
        self.put_started = asyncio.Event()

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        self.put_started.set()
        if self.hold_puts is not None:
            await self.hold_puts.wait()
        await self.inner.put(key, data, content_type)
        self.puts.append(key)

    async def get(self, key: str) -> bytes:
        return await self.inner.get(key)

    async def delete(self, key: str) -> None:
        self.deletes.append(key)
        await self.inner.delete(key)

    def url_for(self, key: str, *, expires_in_s: int) -> str:
        return self.inner.url_for(key, expires_in_s=expires_in_s)

    def exists(self, key: str) -> bool:
        return self.inner.path_for(key).exists()


class GatedProvider:
    """Each `generate` waits for `release(outcome)`: images (`extra` more than asked) or a failure.
    As an async provider (`parks=True`) it answers with a prediction id; `fetch_result` renders
    then, or raises `ProviderUnreachable` while `unreachable`."""

    def __init__(self, *, parks: bool = False) -> None:
        self._local = LocalImageProvider()
        self._gates: list[asyncio.Future[JobFailure | int]] = []
        self.calls = 0
        self.fetches = 0
        self.parks = parks
        self.unreachable = False
        self.ready = True
        self.started = asyncio.Event()
        self.auto: JobFailure | int | None = None  # answer at once with this

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        self.calls += 1
        if self.parks:
            return ProviderResult(provider_job_id=f"pred_{request.job_id}")
        if self.auto is not None:
            outcome: JobFailure | int = self.auto
        else:
            gate: asyncio.Future[JobFailure | int] = asyncio.get_running_loop().create_future()
            self._gates.append(gate)
            self.started.set()
            outcome = await gate
        if isinstance(outcome, JobFailure):
            raise outcome
        return await self._local.generate(msgspec.structs.replace(request, n=request.n + outcome))

    def release(self, index: int, outcome: JobFailure | int = 0) -> None:
        self._gates[index].set_result(outcome)

    async def fetch_result(self, provider_job_id: str, *, model: str) -> ProviderResult | None:
        self.fetches += 1
        if self.unreachable:
            raise ProviderUnreachable("provider down")
        if not self.ready:
            return None
        request = ProviderRequest(job_id=provider_job_id, model=model, prompt="p", width=32,
                                  height=32, n=1, seed=1)
        return await self._local.generate(request)

    async def cancel(self, provider_job_id: str, *, model: str) -> None:
        return None

    async def wait_started(self, count: int) -> None:
        while len(self._gates) < count:
            await asyncio.sleep(0.001)


@dataclass
class Engine:
    engine: AsyncEngine
    tmp: Path
    clock: FakeClock = field(default_factory=FakeClock)
    queue: RecordingQueue = field(default_factory=RecordingQueue)
    events: InProcessJobEvents = field(default_factory=InProcessJobEvents)
    hooks: CommitFaults = field(default_factory=CommitFaults)
    gated: GatedProvider = field(default_factory=GatedProvider)
    async_provider: GatedProvider = field(default_factory=lambda: GatedProvider(parks=True))
    ids: UlidIdGenerator = field(default_factory=UlidIdGenerator)
    storage: WatchedStorage = field(init=False)
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        self.uow = SqlAlchemyUnitOfWorkFactory(self.engine, faults=self.hooks)
        self.storage = WatchedStorage(LocalDiskObjectStorage(
            root=self.tmp / "objects", base_url="http://test", signing_key=b"k" * 32, clock=self.clock))
        self.registry = StaticProviderRegistry({
            "local": LocalImageProvider(clock=self.clock), "gated": self.gated,  # type: ignore[dict-item]
            "async": self.async_provider})  # type: ignore[dict-item]

    def fail_or_retry(self) -> FailOrRetry:
        return FailOrRetry(uow=self.uow, queue=self.queue, clock=self.clock, publisher=self.events,
                           retry_policy=self.retry, refund_policy=RefundPolicy())

    def worker(self, worker_id: str = "w1", *, publisher: object | None = None) -> ProcessGeneration:
        return ProcessGeneration(uow=self.uow, providers=self.registry,
                                 inspector=PillowImageInspector(), storage=self.storage,  # type: ignore[arg-type]
                                 clock=self.clock, publisher=publisher or self.events,  # type: ignore[arg-type]
                                 fail_or_retry=self.fail_or_retry(), worker_id=worker_id,
                                 lease_s=LEASE_S)

    def resumer(self, worker_id: str = "r1", *, max_wait_s: int = 3600) -> ResumeAwaitingJob:
        return ResumeAwaitingJob(uow=self.uow, providers=self.registry,
                                 finish=self.worker(worker_id).finish,
                                 fail_or_retry=self.fail_or_retry(), clock=self.clock,
                                 publisher=self.events, max_wait_s=max_wait_s,
                                 worker_id=worker_id, lease_s=LEASE_S)

    def sweeper(self, *, max_wait_s: int = 3600) -> RecoverJobs:
        return RecoverJobs(uow=self.uow, queue=self.queue, clock=self.clock,
                           fail_or_retry=self.fail_or_retry(), publisher=self.events,
                           awaiting_max_wait_s=max_wait_s)

    async def grant(self, user: str, amount: int) -> None:
        await GrantCredits(uow=self.uow, clock=self.clock)(user, amount)

    async def submit(self, user: str, model: str = "gated", n: int = 1) -> str:
        submit = SubmitGeneration(uow=self.uow, catalog=ModelCatalog(MODELS), providers=self.registry,
                                  queue=self.queue, clock=self.clock, ids=self.ids,
                                  publisher=self.events)
        outcome = await submit(SubmitJob(user_id=user, prompt="a fox", model=model, size="32x32", n=n))
        return outcome.job.id

    async def cancel(self, user: str, job_id: str) -> JobState:
        return await CancelJob(uow=self.uow, clock=self.clock, publisher=self.events)(user, job_id)

    async def job(self, job_id: str) -> JobState:
        async with self.uow() as uow:
            job = await uow.jobs.get(job_id)
        assert job is not None
        return job.state

    async def balance(self, user: str) -> tuple[int, int, int]:
        async with self.uow() as uow:
            b = (await uow.ledgers.load(user)).balance
        return b.available, b.reserved, b.lifetime_spent

    async def image_keys(self, job_id: str) -> list[str]:
        async with self.uow() as uow:
            return [i.key for i in await uow.images.for_job(job_id)]

    async def audit_ok(self) -> bool:
        report = await AuditLedger(uow=self.uow)()
        return bool(getattr(report, "ok", report))


async def sqlite_engine(tmp: Path) -> AsyncEngine:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp / 'engine.db'}")
    await create_schema(engine)
    return engine


async def run_until(predicate: Callable[[], Awaitable[bool]], *, tries: int = 500) -> None:
    """Let other tasks run until `predicate` holds (a few thousand loop turns at most)."""
    for _ in range(tries):
        if await predicate():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("condition never held")
