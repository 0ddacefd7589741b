"""Ports: what the use cases need from the outside world, as typing.Protocol classes.

Adapters subclass these explicitly so type checkers verify them; fakes need not. Every I/O
method is async. Stores raise `application.errors.ConcurrencyConflict` on a lost race.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

import msgspec

from domain.accounts import ApiKey, User
from domain.credits import CreditLedger, LedgerSnapshot
from domain.images import StoredImage
from domain.jobs import Job, JobState, JobStatus, JobStatusChanged
from domain.ledger_events import AnyLedgerEvent
from domain.quota import StorageQuota


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait; fakes advance their time instead."""
        ...


class IdGenerator(Protocol):
    def new_id(self, prefix: str) -> str:
        """A unique, time-sortable id such as 'job_01J...'."""
        ...


class JobPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[JobState]
    next_cursor: str | None


class JobRepository(Protocol):
    async def add(self, job: Job) -> None: ...

    async def get(self, job_id: str) -> Job | None: ...

    async def save(self, job: Job) -> None:
        """Store the job's state; raise ConcurrencyConflict if it changed since it was read."""
        ...

    async def list_for_user(
        self, user_id: str, *, status: JobStatus | None, limit: int, cursor: str | None
    ) -> JobPage:
        """Newest first; `cursor` is the opaque `next_cursor` of the page before."""
        ...

    async def queue_position(self, job: JobState) -> int:
        """1 + the number of queued jobs submitted before this one (0 if not queued)."""
        ...

    async def due_for_dispatch(self, now: datetime, limit: int) -> list[str]:
        """Queued jobs whose next attempt is due, and live jobs whose lease lapsed."""
        ...


class LedgerStore(Protocol):
    async def load(self, account_id: str) -> CreditLedger:
        """The account's ledger (empty at version 0 when it has no events)."""
        ...

    async def append(self, ledger: CreditLedger) -> None:
        """Append `ledger.pending_events`, expecting the stored version to be the one the ledger
        was loaded at; update the balance projection in the same transaction. Raise
        ConcurrencyConflict when another writer got there first."""
        ...

    async def events(self, account_id: str, *, after_version: int = 0,
                     limit: int | None = None) -> list[AnyLedgerEvent]: ...

    async def projection(self, account_id: str) -> LedgerSnapshot | None:
        """The stored balance projection, as written by `append`."""
        ...

    async def account_ids(self) -> list[str]: ...


class ImageRepository(Protocol):
    async def add(self, image: StoredImage) -> None: ...

    async def get(self, image_id: str) -> StoredImage | None: ...

    async def for_job(self, job_id: str) -> list[StoredImage]: ...


class QuotaRepository(Protocol):
    async def get(self, user_id: str) -> StorageQuota: ...

    async def add_usage(self, user_id: str, delta_bytes: int) -> None:
        """Count stored bytes; the caller has already checked the quota."""
        ...


class UserRepository(Protocol):
    async def get(self, user_id: str) -> User | None: ...

    async def add(self, user: User) -> None: ...

    async def set_plan(self, user: User) -> None: ...

    async def add_key(self, key: ApiKey) -> None: ...

    async def key_by_hash(self, key_hash: str) -> ApiKey | None: ...


class UnitOfWork(Protocol):
    """One transaction. `async with uow:` rolls back unless `commit()` was awaited."""

    jobs: JobRepository
    ledgers: LedgerStore
    images: ImageRepository
    quotas: QuotaRepository
    users: UserRepository

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def commit(self) -> None: ...

    def collect_new_events(self) -> list[JobStatusChanged]:
        """Job events recorded by aggregates saved in this unit, after commit."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class ProviderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a provider is asked to make. Input images are bytes we already hold."""

    job_id: str
    model: str
    prompt: str
    width: int
    height: int
    n: int
    seed: int | None = None
    input_images: tuple[bytes, ...] = ()
    mask: bytes | None = None
    user_ref: str = ""


class GeneratedImage(msgspec.Struct, frozen=True, kw_only=True):
    """One result as the provider gave it: bytes, or a URL to fetch at once."""

    data: bytes | None = None
    url: str | None = None


class ProviderResult(msgspec.Struct, frozen=True, kw_only=True):
    """A finished call (images) or an accepted async one (provider_job_id, no images)."""

    images: tuple[GeneratedImage, ...] = ()
    cost_micros: int | None = None
    provider_job_id: str | None = None

    @property
    def pending(self) -> bool:
        return not self.images and self.provider_job_id is not None


@runtime_checkable
class ImageProvider(Protocol):
    name: str

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        """Run or submit a generation; raise domain.failures.JobFailure on a classified error."""
        ...


class ProviderRegistry(Protocol):
    def provider_for(self, provider_name: str) -> ImageProvider | None: ...


class ImageInfo(msgspec.Struct, frozen=True, kw_only=True):
    content_type: str
    extension: str
    width: int
    height: int
    data: bytes


class ImageInspector(Protocol):
    async def inspect(self, image: GeneratedImage) -> ImageInfo:
        """Fetch (if a URL) and decode untrusted output; raise JobFailure(invalid_output)."""
        ...


class ObjectStorage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    def url_for(self, key: str, *, expires_in_s: int) -> str:
        """A URL a client can fetch the object from until it expires."""
        ...


class TaskQueue(Protocol):
    async def enqueue(self, job_id: str, *, delay_s: float = 0.0) -> None:
        """Ask a worker to process the job, no sooner than `delay_s` from now."""
        ...


class JobEventPublisher(Protocol):
    async def publish(self, events: Sequence[JobStatusChanged]) -> None:
        """Tell watchers (progress streams, webhooks) about committed job changes."""
        ...
