"""Use cases on in-memory adapters, a fake clock and the real local provider and inspector."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from adapters.clock import FakeClock
from adapters.events.in_process import InProcessJobEvents
from adapters.ids import UlidIdGenerator
from adapters.image_providers.local import LocalImageProvider
from adapters.image_providers.registry import StaticProviderRegistry
from adapters.images.inspector import PillowImageInspector
from adapters.memory.store import InMemoryDatabase
from adapters.memory.uow import InMemoryUnitOfWork
from adapters.storage.local_disk import LocalDiskObjectStorage
from application.ports import ImageProvider
from application.use_cases.audit_ledger import AuditLedger
from application.use_cases.cancel_job import CancelJob
from application.use_cases.credits import GetBalance, GrantCredits
from application.use_cases.get_job import GetJob
from application.use_cases.process_generation import ProcessGeneration
from application.use_cases.recover_jobs import RecoverJobs
from application.use_cases.settle_failure import FailOrRetry
from application.use_cases.submit_generation import SubmitGeneration
from domain.catalog import ModelCatalog
from domain.failures import RefundPolicy
from domain.pricing import ModelSpec
from domain.retry import RetryPolicy

MODELS = [
    ModelSpec(name="local", provider="local", credits_per_image=1, max_n=4, supports_edit=True),
    ModelSpec(name="dall-e-3", provider="local", credits_per_image=5,
              sizes=("1024x1024", "1792x1024", "1024x1792"), max_n=1),
    ModelSpec(name="flaky", provider="flaky", credits_per_image=2, max_n=4),
    ModelSpec(name="unkeyed", provider="openai", credits_per_image=5),
]


class RecordingQueue:
    """A queue fake: remembers what was enqueued; the test decides when work runs."""

    def __init__(self) -> None:
        self.items: list[tuple[str, float]] = []

    async def enqueue(self, job_id: str, *, delay_s: float = 0.0) -> None:
        self.items.append((job_id, delay_s))


@dataclass
class World:
    tmp: Path
    clock: FakeClock = field(default_factory=FakeClock)
    db: InMemoryDatabase = field(default_factory=InMemoryDatabase)
    queue: RecordingQueue = field(default_factory=RecordingQueue)
    events: InProcessJobEvents = field(default_factory=InProcessJobEvents)
    refund_policy: RefundPolicy = field(default_factory=RefundPolicy)
    extra_providers: dict[str, ImageProvider] = field(default_factory=dict)
    ids: UlidIdGenerator = field(default_factory=UlidIdGenerator)  # one generator: ids sort

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.db)

    @property
    def storage(self) -> LocalDiskObjectStorage:
        return LocalDiskObjectStorage(root=self.tmp / "objects", base_url="http://test",
                                      signing_key=b"k" * 32, clock=self.clock)

    @property
    def registry(self) -> StaticProviderRegistry:
        return StaticProviderRegistry({"local": LocalImageProvider(clock=self.clock), **self.extra_providers})

    def submit(self) -> SubmitGeneration:
        return SubmitGeneration(uow=self.uow, catalog=ModelCatalog(MODELS), providers=self.registry,
                                queue=self.queue, clock=self.clock, ids=self.ids,
                                publisher=self.events)

    def fail_or_retry(self) -> FailOrRetry:
        return FailOrRetry(uow=self.uow, queue=self.queue, clock=self.clock, publisher=self.events,
                           retry_policy=RetryPolicy(), refund_policy=self.refund_policy)

    def process(self, worker_id: str = "w1") -> ProcessGeneration:
        return ProcessGeneration(uow=self.uow, providers=self.registry, inspector=PillowImageInspector(),
                                 storage=self.storage, clock=self.clock, publisher=self.events,
                                 fail_or_retry=self.fail_or_retry(), worker_id=worker_id, lease_s=60)

    def cancel(self) -> CancelJob:
        return CancelJob(uow=self.uow, clock=self.clock, publisher=self.events)

    def get_job(self) -> GetJob:
        return GetJob(uow=self.uow, clock=self.clock, concurrency=2)

    def balance(self) -> GetBalance:
        return GetBalance(uow=self.uow)

    def grant(self) -> GrantCredits:
        return GrantCredits(uow=self.uow, clock=self.clock)

    def audit(self) -> AuditLedger:
        return AuditLedger(uow=self.uow)

    def recover(self) -> RecoverJobs:
        return RecoverJobs(uow=self.uow, queue=self.queue, clock=self.clock,
                           fail_or_retry=self.fail_or_retry())

    async def run_queue(self) -> None:
        """Process everything enqueued, honouring delays by advancing the fake clock."""
        process = self.process()
        while self.queue.items:
            job_id, delay = self.queue.items.pop(0)
            self.clock.advance(delay)
            await process(job_id)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp=tmp_path)
