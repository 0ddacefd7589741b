"""Ports: what the use cases need from the outside world, as typing.Protocol classes.

Adapters subclass these explicitly so type checkers verify them; fakes need not. Every I/O
method is async. Stores raise `application.errors.ConcurrencyConflict` on a lost race.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol, runtime_checkable

import msgspec

from domain.accounts import ApiKey, User
from domain.credits import CreditLedger, LedgerSnapshot, OpenReservation
from domain.images import StoredImage
from domain.jobs import Job, JobState, JobStatus, JobStatusChanged
from domain.ledger_events import AnyLedgerEvent, ChainHasher
from domain.previews import JobPreview, JobPreviewReady
from domain.quota import StorageQuota
from domain.webhooks import DeliveryAttempt, WebhookDelivery, WebhookEndpoint


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

    async def lapsed_leases(self, now: datetime, limit: int) -> list[str]:
        """Ids of jobs in a leased status (processing, generating, uploading) whose lease lapsed
        before `now` or was never set, the longest lapsed first."""
        ...

    async def queued_to_resend(self, now: datetime, sent_before: datetime, limit: int) -> list[str]:
        """Ids of queued, due jobs last sent (or queued, or made due) no later than `sent_before`."""
        ...

    async def awaiting_since_generation(self, before: datetime, limit: int) -> list[str]:
        """Ids of jobs awaiting a callback whose generation began before `before`."""
        ...

    async def recent_processing_seconds(self, model: str, limit: int) -> list[float]:
        """completed_at - started_at of the last `limit` completed jobs of `model`, newest first."""
        ...

    async def by_provider_job_id(self, provider: str, provider_job_id: str) -> Job | None:
        """The job of `provider` whose async call has this id (webhooks find jobs by it)."""
        ...

    async def awaiting_callback_since(self, before: datetime, limit: int) -> list[str]:
        """Ids of jobs awaiting a provider callback whose last change is older than `before`."""
        ...

    async def retry_of(self, job_id: str) -> Job | None:
        """The job that retries `job_id`, if any; a second job retrying the same one is a
        `ConcurrencyConflict` on add or commit (one retry per job)."""
        ...


class StoredLedgerEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One stored event row as the audit sees it: every column, and the decoded payload."""

    account_id: str
    version: int
    type: str
    job_id: str | None
    amount: int
    occurred_at: datetime
    prev_hash: str
    hash: str
    event: AnyLedgerEvent
    #: The stored payload with its own hash blanked: the bytes the chain's hash covers.
    canonical: bytes


class StoredBalance(msgspec.Struct, frozen=True, kw_only=True):
    """An account's stored projection as the audit sees it: each scalar column, the snapshot
    document, whether its chain is keyed, and its open reservations."""

    account_id: str
    version: int
    last_hash: str
    available: int
    reserved: int
    lifetime_spent: int
    snapshot: LedgerSnapshot
    keyed: bool
    open_reservations: dict[str, OpenReservation]


class LedgerStore(Protocol):
    #: The hasher the store seals events with; the audit checks the chain with it.
    hasher: ChainHasher

    async def load(self, account_id: str, *, job_ids: Iterable[str] | None = None) -> CreditLedger:
        """The account's ledger (empty at version 0 when it has no events), holding every open
        reservation, or, when `job_ids` is given, the reservations of those jobs only, open or
        settled (so a repeated settlement is recognised)."""
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

    async def expired_reservations(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        """(account id, job id) of open reservations whose `expires_at` is not after `now`,
        the oldest first (the sweeper settles them)."""
        ...

    async def account_ids(self) -> list[str]: ...

    async def stored_balances(self, account_ids: Sequence[str]) -> dict[str, StoredBalance]:
        """The stored balances of those accounts (absent ones left out), with their open
        reservations."""
        ...

    async def accounts_without_events(self) -> list[str]:
        """Accounts with a balance row but no event (an empty one at version 0, or a forgery)."""
        ...

    def stream_events(self, account_id: str | None = None
                      ) -> AsyncIterator[list[StoredLedgerEvent]]:
        """Event rows (of one account, or all) grouped by account in version order, in batches
        of bounded size."""
        ...


class ImageRepository(Protocol):
    async def add(self, image: StoredImage) -> None: ...

    async def get(self, image_id: str) -> StoredImage | None: ...

    async def for_job(self, job_id: str) -> list[StoredImage]: ...

    async def unreferenced_uploads(self, *, before: datetime, limit: int) -> list[StoredImage]:
        """Uploaded inputs (job id `upload`) created before `before` that no job of their
        owner names as an input or mask image (ADR 0080)."""
        ...

    async def remove(self, image_id: str) -> None:
        """Delete an uploaded input's record (never a job's output)."""
        ...


class QuotaRepository(Protocol):
    async def get(self, user_id: str) -> StorageQuota: ...

    async def add_usage(self, user_id: str, delta_bytes: int) -> None:
        """Count stored bytes, checking the plan's limit in the same write (ADR 0050).

        Raises:
            StorageQuotaExceeded: when a positive `delta_bytes` does not fit under the limit
                (with what concurrent writers counted); nothing is counted then.
        """
        ...


class UserRepository(Protocol):
    async def get(self, user_id: str) -> User | None: ...

    async def add(self, user: User) -> None: ...

    async def set_plan(self, user: User) -> None: ...

    async def add_key(self, key: ApiKey) -> None: ...

    async def key_by_hash(self, key_hash: str) -> ApiKey | None: ...

    async def key_by_id(self, key_id: str) -> ApiKey | None: ...

    async def list_keys(self, user_id: str | None, *, limit: int) -> list[ApiKey]:
        """Keys of `user_id` (every user's when None), newest first, at most `limit`."""
        ...

    async def revoke_key(self, key_id: str, at: datetime) -> None:
        """Set `revoked_at` unless already set; `NotFound` for an unknown key."""
        ...

    async def touch_key(self, key_id: str, at: datetime) -> None:
        """Record `last_used_at` (a cheap single-row update; a missing key is ignored)."""
        ...

    async def set_admin(self, user_id: str, is_admin: bool) -> None:
        """Store the admin flag; `NotFound` if there is no such user."""
        ...

    async def has_project(self, user_id: str, project_id: str) -> bool:
        """Whether one of the user's API keys is scoped to `project_id` (the user's projects)."""
        ...


# --- outbox (production profile: messages committed with the job) ---------------------------

class OutboxMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A side effect of a change, committed in the same unit as the change (ADR 0051).

    Topic `job.dispatch`: a task-queue message; `not_before` asks the queue to deliver no
    sooner than then (None: at once). Topic `job.event`: a job's `event`, turned into client
    webhook deliveries by the relay. `claimed_until` is the in-flight mark of the relay
    protocol (ADR 0053): until then one publisher owns the row and others skip it.
    """

    id: str
    job_id: str
    topic: str
    created_at: datetime
    not_before: datetime | None = None
    attempts: int = 0
    dispatched_at: datetime | None = None
    claimed_until: datetime | None = None
    event: JobStatusChanged | None = None


class OutboxRepository(Protocol):
    async def add(self, message: OutboxMessage) -> None: ...

    async def add_job_events(self, events: Sequence[JobStatusChanged], *, ids: Sequence[str]) -> None:
        """Record each event as a `job.event` message (id from `ids`, created at the event's
        time), where the store can only for users with a client webhook endpoint."""
        ...

    async def claim_undispatched(self, limit: int, *, now: datetime,
                                 lease_until: datetime) -> list[OutboxMessage]:
        """Up to `limit` undispatched messages not claimed past `now`, oldest first, each marked
        claimed until `lease_until` with its `attempts` raised by one (when the unit commits).
        Postgres takes the rows with FOR UPDATE SKIP LOCKED, so concurrent relays claim
        disjoint rows; the caller commits at once and publishes outside the transaction."""
        ...

    async def release(self, ids: Sequence[str]) -> None:
        """Drop the claim of undispatched messages, so the next relay pass takes them."""
        ...

    async def mark_dispatched(self, ids: Sequence[str], *, at: datetime) -> None: ...


class UnitOfWork(Protocol):
    """One transaction. `async with uow:` rolls back unless `commit()` was awaited."""

    jobs: JobRepository
    ledgers: LedgerStore
    images: ImageRepository
    quotas: QuotaRepository
    users: UserRepository
    batches: BatchRepository
    outbox: OutboxRepository
    provider_deliveries: ProviderDeliveryLog

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, *exc: object) -> None: ...

    async def commit(self) -> None: ...

    async def lock_account(self, account_id: str) -> None:
        """Serialise this unit with every other unit writing `account_id`'s ledger, until it
        ends. Call it first, before reading anything the unit will write (lock order: account,
        then job; ADR 0045)."""
        ...

    def collect_new_events(self) -> list[JobStatusChanged]:
        """Job events recorded by aggregates saved in this unit, after commit."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...


class PreviewSink(Protocol):
    """Where a provider hands a partial image while it works (streaming previews, ADR 0072)."""

    async def __call__(self, data: bytes, index: int) -> None:
        """Store `data` (encoded image bytes) as the job's newest preview; never raises."""
        ...


class EditTurn(msgspec.Struct, frozen=True, kw_only=True):
    """One earlier turn of a multi-turn edit: what was asked and what came out."""

    prompt: str
    images: tuple[bytes, ...] = ()


class ProviderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a provider is asked to make. Input images are bytes we already hold.

    `history` holds the earlier turns of a multi-turn edit, oldest first (the parent job
    last); `previews`, when set, receives partial images from providers that stream them.
    """

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
    history: tuple[EditTurn, ...] = ()
    previews: PreviewSink | None = None


class GeneratedImage(msgspec.Struct, frozen=True, kw_only=True):
    """One result as the provider gave it: bytes, or a URL to fetch at once."""

    data: bytes | None = None
    url: str | None = None


class ProviderResult(msgspec.Struct, frozen=True, kw_only=True):
    """A finished call (images) or an accepted async one (provider_job_id, no images)."""

    images: tuple[GeneratedImage, ...] = ()
    cost_micros: int | None = None
    provider_job_id: str | None = None
    # Set by the fallback router when a model other than the requested one made the images.
    served_by_model: str | None = None
    # Async providers whose result URLs expire: read the job again by id for fresh URLs.
    refresh: Callable[[], Awaitable[ProviderResult | None]] | None = None

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

    def dimensions(self, data: bytes) -> tuple[str, int, int]:
        """(format, width, height) from the header only, without decoding a pixel; raise
        JobFailure(invalid_output) when it is not a PNG, JPEG or WebP header."""
        ...


class ObjectStorage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    def url_for(self, key: str, *, expires_in_s: int) -> str:
        """A URL a client can fetch the object from until it expires."""
        ...


class CdnUrlSigner(Protocol):
    """Turns an object key into a URL served by a CDN in front of the object store."""

    def url_for(self, key: str, *, expires_in_s: int) -> str:
        """A URL for `key`; signed ones stop working `expires_in_s` seconds from now."""
        ...


class TaskQueue(Protocol):
    async def enqueue(self, job_id: str, *, delay_s: float = 0.0) -> None:
        """Ask a worker to process the job, no sooner than `delay_s` from now."""
        ...


class JobEventPublisher(Protocol):
    async def publish(self, events: Sequence[JobStatusChanged | JobPreviewReady]) -> None:
        """Tell watchers (progress streams, webhooks) about committed job changes, and
        progress streams about new previews (listeners see status changes only)."""
        ...


class PreviewIndex(Protocol):
    """Which preview each live job has (shared by the processes of a deployment)."""

    async def put(self, preview: JobPreview) -> None:
        """Record `preview` as the job's newest, replacing the one before."""
        ...

    async def get(self, job_id: str) -> JobPreview | None: ...

    async def delete(self, job_id: str) -> JobPreview | None:
        """Forget the job's preview; return what was recorded."""
        ...


# -- watching jobs (SSE, webhooks, OpenAI-compatible waits) -----------------------------------
class JobEventSubscriber(Protocol):
    def subscribe(self, job_id: str | None = None) -> AbstractAsyncContextManager[
            asyncio.Queue[JobStatusChanged]]:
        """A queue of the events of one job (every job when None) published from now on."""
        ...


# -- client-facing request features (idempotency, batches, rate limits, stats) -------------------
from domain.batches import Batch  # noqa: E402
from domain.idempotency import IdempotencyRecord, StoredResponse  # noqa: E402
from domain.rate_limit import RateDecision, RateLimit  # noqa: E402


class IdempotencyStore(Protocol):
    """Idempotency records, each written in its own transaction (outside any unit of work)."""

    async def begin(self, record: IdempotencyRecord, now: datetime) -> IdempotencyRecord | None:
        """Insert `record` (in progress) atomically, unique on (api_key_id, key); return None when
        inserted, else the live record already there. A record past its TTL, or in progress for
        longer than `ABANDONED_AFTER`, is replaced."""
        ...

    async def complete(self, api_key_id: str, key: str, response: StoredResponse) -> None: ...

    async def release(self, api_key_id: str, key: str) -> None:
        """Forget an in-progress record, so the key may be used again."""
        ...

    async def mark_in_doubt(self, api_key_id: str, key: str) -> None:
        """Keep an in-progress record as "in doubt": its request may have committed (ADR 0052)."""
        ...

    async def resume(self, record: IdempotencyRecord, now: datetime) -> bool:
        """Take over an in-doubt record with the same fingerprint as in progress again
        (atomically: one of two racing retries wins); False if it was not in doubt."""
        ...

    async def forget(self, api_key_id: str, key: str) -> None:
        """Forget a finished record (a new call that derives the same key; ADR 0083)."""
        ...


class BatchRepository(Protocol):
    async def add(self, batch: Batch) -> None: ...

    async def get(self, batch_id: str) -> Batch | None: ...


class RateLimiter(Protocol):
    async def acquire(self, bucket: str, limit: RateLimit) -> RateDecision:
        """Take one token from `bucket`, atomically."""
        ...


class ModelStats(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    day: str | None  # "YYYY-MM-DD", or None for the whole window
    completed: int
    failed: int
    cancelled: int
    credits_spent: int
    provider_cost_micros: int
    p50_ms: int | None
    p95_ms: int | None


class StatsReader(Protocol):
    async def job_stats(self, user_id: str | None, *, since: datetime,
                        sample_limit: int) -> list[ModelStats]:
        """Per (model, day) and per model (day None) figures of jobs created since `since`;
        `user_id` None means every user. Percentiles use at most `sample_limit` newest jobs."""
        ...


class AccountBalance(msgspec.Struct, frozen=True, kw_only=True):
    account_id: str
    available: int
    reserved: int
    lifetime_spent: int


class BalanceLister(Protocol):
    async def balances(self, *, after: str | None, limit: int) -> list[AccountBalance]:
        """Balance projections ordered by account id, strictly after `after`."""
        ...


# -- async providers and their webhooks (Replicate, fal) -------------------------------------------

@runtime_checkable
class AsyncProviderControl(Protocol):
    """What an async provider (one whose `generate` answers with a provider job id) also offers."""

    async def fetch_result(self, provider_job_id: str, *, model: str = "") -> ProviderResult | None:
        """The finished result, or None while the provider is still working.

        Raises:
            JobFailure: when the provider's job ended without a result (failed, cancelled,
                timed out), classified as in the provider reference's table 0.1.
            ProviderUnreachable: when the provider could not be asked (network, 5xx, 429).
        """
        ...

    async def cancel(self, provider_job_id: str, *, model: str = "") -> None:
        """Ask the provider to stop; best effort, errors are the caller's to log."""
        ...


class ProviderDelivery(msgspec.Struct, frozen=True, kw_only=True):
    """A provider callback whose signature was verified, reduced to what we act on."""

    provider: str
    delivery_id: str
    provider_job_id: str
    finished: bool


class WebhookVerifier(Protocol):
    provider: str

    def verify(self, headers: Mapping[str, str], body: bytes) -> ProviderDelivery:
        """Check the signature over the raw `body` (header names lower-cased) and parse it.

        Raises:
            WebhookRejected: malformed headers or body (400), or a bad or stale signature (401).
        """
        ...


class ProviderDeliveryLog(Protocol):
    """Provider deliveries already handled, kept long enough to outlast provider retries."""

    async def seen(self, provider: str, delivery_id: str) -> bool: ...

    async def record(self, delivery: ProviderDelivery, *, job_id: str | None,
                     received_at: datetime) -> None:
        """Remember the delivery; `ConcurrencyConflict` if it is already recorded."""
        ...

    async def prune(self, before: datetime) -> int:
        """Forget deliveries received before `before`; return how many."""
        ...


# -- outgoing webhooks -----------------------------------------------------------------------
class WebhookStore(Protocol):
    """Endpoints, deliveries and attempts; each method is its own transaction."""

    async def add_endpoint(self, endpoint: WebhookEndpoint, *, max_per_user: int | None = None) -> bool:
        """Store it; with `max_per_user`, atomically only while the user has fewer (else False)."""
        ...

    async def endpoints_of(self, user_id: str) -> list[WebhookEndpoint]:
        """The user's endpoints, oldest first."""
        ...

    async def delete_endpoint(self, user_id: str, endpoint_id: str) -> bool:
        """Delete the user's endpoint and its pending deliveries; False if there is none."""
        ...

    async def add_deliveries(self, deliveries: Sequence[WebhookDelivery]) -> None: ...

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int, *,
                        per_endpoint: int | None = None,
                        exclude_endpoints: Collection[str] = ()) -> list[WebhookDelivery]:
        """Pending deliveries due by `now`, oldest first, each moved to `lease_until` so that
        another process claiming at the same time does not get it too."""
        ...

    async def record_attempt(self, delivery: WebhookDelivery, attempt: DeliveryAttempt) -> None:
        """Store the delivery's new state and the attempt that led to it."""
        ...

    async def get_delivery(self, delivery_id: str) -> WebhookDelivery | None: ...

    async def deliveries_of(self, user_id: str, *, limit: int, status: str | None = None
                            ) -> list[WebhookDelivery]:
        """The user's deliveries, newest first."""
        ...

    async def attempts_of(self, delivery_id: str) -> list[DeliveryAttempt]:
        """Oldest first."""
        ...

    async def get_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None: ...

    async def rotate_secret(self, user_id: str, endpoint_id: str, secret: str,
                            previous_until: datetime) -> WebhookEndpoint | None:
        """Make `secret` current, keep the old one signing until `previous_until`; None if the
        endpoint is not the user's."""
        ...


class WebhookResponse(msgspec.Struct, frozen=True, kw_only=True):
    """What one POST to an endpoint came to: a status code, or an error before any answer."""

    status_code: int | None
    error: str | None = None


class WebhookSender(Protocol):
    async def send(self, url: str, headers: dict[str, str], body: bytes) -> WebhookResponse:
        """POST once, no redirects followed, address-checked; never raises for network errors."""
        ...


class UrlGuard(Protocol):
    async def check(self, url: str) -> None:
        """Raise domain.errors.InvalidRequest(field "url") for a URL we must not call."""
        ...


# --- retention (ADR 0093): rows kept only for a while ----------------------------------------

class RetentionCutoffs(msgspec.Struct, frozen=True, kw_only=True):
    """Rows older than these are deleted: dispatched outbox messages, idempotency keys,
    finished (succeeded or failed) webhook deliveries with their attempts."""

    outbox_before: datetime
    idempotency_before: datetime
    deliveries_before: datetime


class RetentionPruner(Protocol):
    async def prune(self, cutoffs: RetentionCutoffs, *, limit: int) -> dict[str, int]:
        """Delete at most `limit` rows of each kind; return how many went, by table."""
        ...


# --- worker capacity (ADR 0092): what the ETA divides the queue by -----------------------------

class WorkerCapacity(Protocol):
    async def total(self) -> int:
        """Job slots of the workers alive now (processes x threads); 0 when none reported."""
        ...

    async def beat(self, worker_id: str, slots: int, ttl_s: float) -> None:
        """Report `slots` for `worker_id`, counted for `ttl_s` seconds unless renewed."""
        ...
