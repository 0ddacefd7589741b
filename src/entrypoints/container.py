"""The composition root: containers by role, and `build_container(settings)` choosing a profile.

`EmbeddedAdapters` and `ProductionAdapters` expose the same provider names (a test checks it),
so `UseCases` never knows which profile it runs on. Nothing is built at import time.
"""

from __future__ import annotations

import httpx
from dependency_injector import containers, providers

from adapters.capacity.static import StaticWorkerCapacity
from adapters.clock import SystemClock
from adapters.events.in_process import InProcessJobEvents
from adapters.ids import UlidIdGenerator
from adapters.image_providers.listing import ModelCheckBoard
from adapters.previews.memory import InMemoryPreviewIndex
from adapters.image_providers.registry import StaticProviderRegistry
from adapters.outbox_signal import OutboxSignal
from adapters.persistence.sqlalchemy.engine import create_engine
from adapters.persistence.sqlalchemy.retention import SqlAlchemyRetentionPruner
from adapters.persistence.sqlalchemy.uow import SqlAlchemyUnitOfWork
from adapters.storage.local_disk import LocalDiskObjectStorage
from adapters.tasks.in_process import InProcessTaskQueue
from application.ports import Clock, ImageProvider
from application.use_cases.api_keys import (
    Authenticate, CreateApiKey, KeyCache, ListApiKeys, RevokeApiKey, RotateApiKey,
)
from application.use_cases.audit_ledger import AuditLedger
from application.use_cases.cancel_job import CancelJob
from application.use_cases.credits import GetBalance, GrantCredits
from application.use_cases.ensure_user import EnsureUser
from application.use_cases.get_image import GetImage
from application.use_cases.get_job import GetJob
from application.use_cases.handle_provider_callback import HandleProviderCallback
from application.use_cases.list_jobs import ListJobs
from application.use_cases.job_previews import JobPreviews
from application.use_cases.process_generation import ProcessGeneration
from application.use_cases.prune_retention import PruneRetention
from application.use_cases.reconcile_awaiting_jobs import ReconcileAwaitingJobs
from application.use_cases.recover_jobs import RecoverJobs
from application.use_cases.relay_outbox import RelayOutbox
from application.use_cases.renew_lease import LeaseKeeper, RenewLease
from application.use_cases.resume_awaiting_job import ResumeAwaitingJob
from application.use_cases.settle_failure import FailOrRetry
from application.use_cases.submit_generation import SubmitGeneration
from domain.catalog import ModelCatalog
from domain.retry import RetryPolicy
from entrypoints.background import BATCH, BackgroundLoops
from entrypoints.async_provider_wiring import build_inspector, build_webhook_receivers
from entrypoints.provider_wiring import build_http_client, build_providers
from entrypoints.settings import Settings


def provider_map(settings: Settings, clock: Clock, http_client: httpx.AsyncClient) -> dict[str, ImageProvider]:
    """The image providers this deployment can call: `local` always, others when keyed."""
    return build_providers(settings, clock, http_client)


class Core(containers.DeclarativeContainer):
    """Settings and the pure services every profile shares."""

    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UlidIdGenerator)
    catalog = providers.Singleton(ModelCatalog, settings.provided.models)
    retry_policy = providers.Singleton(RetryPolicy)
    refund_policy = providers.Callable(lambda s: s.refund_policy, settings)
    model_check = providers.Singleton(ModelCheckBoard)  # the catalog check's last report


class EmbeddedAdapters(containers.DeclarativeContainer):
    """SQLite, local disk with signed URLs, an in-process queue and event hub."""

    core = providers.DependenciesContainer()
    engine = providers.Singleton(create_engine, core.settings.provided.resolved_database_url)
    outbox_signal = providers.Singleton(OutboxSignal)  # wakes this process's relay (ADR 0053)
    uow = providers.Factory(SqlAlchemyUnitOfWork, engine, signal=outbox_signal,
                            ledger_key=core.settings.provided.ledger_key)
    storage = providers.Singleton(
        LocalDiskObjectStorage,
        root=providers.Callable(lambda s: s.home / "objects", core.settings),
        base_url=core.settings.provided.resolved_base_url,
        signing_key=core.settings.provided.signing_key,
        clock=core.clock)
    http_client = providers.Singleton(build_http_client, core.settings)  # closed by AppContainer.close
    image_providers = providers.Singleton(
        StaticProviderRegistry, providers.Callable(provider_map, core.settings, core.clock, http_client))
    inspector = providers.Singleton(build_inspector, core.settings)  # fetches result URLs
    queue = providers.Singleton(InProcessTaskQueue, concurrency=core.settings.provided.worker_concurrency,
                                clock=core.clock)
    publisher = providers.Singleton(InProcessJobEvents)
    preview_index = providers.Singleton(InMemoryPreviewIndex)  # one process: API and worker
    capacity = providers.Singleton(StaticWorkerCapacity, core.settings.provided.worker_concurrency)


# --- production profile (ADR 0010-0013) ------------------------------------------------------
def _production_engine(settings: Settings):  # type: ignore[no-untyped-def]
    if not settings.database_url:
        from entrypoints.settings_env import ConfigError

        raise ConfigError("DATABASE_URL", "required on the production profile (or IMAGEGEN_DATABASE_URL)")
    return create_engine(settings.database_url, pool_size=settings.db_pool_size,
                         max_overflow=settings.db_max_overflow, pool_timeout=settings.db_pool_timeout_s,
                         pool_pre_ping=True)


def _production_storage(settings: Settings, clock: Clock):  # type: ignore[no-untyped-def]
    from entrypoints.storage_wiring import build_object_storage  # S3 imported only here

    return build_object_storage(settings, clock)


def _dramatiq_queue(settings: Settings):  # type: ignore[no-untyped-def]
    from adapters.tasks.dramatiq_queue import DramatiqTaskQueue, make_redis_broker

    return DramatiqTaskQueue(make_redis_broker(settings.redis_url), queue_name=settings.queue_name)


def _redis_events(settings: Settings):  # type: ignore[no-untyped-def]
    from adapters.events.redis_pubsub import RedisJobEvents

    return RedisJobEvents.from_url(settings.redis_url)


def _redis_previews(settings: Settings):  # type: ignore[no-untyped-def]
    from adapters.previews.redis_index import RedisPreviewIndex

    return RedisPreviewIndex.from_url(settings.redis_url, ttl_s=settings.job_time_limit_s)


def _worker_heartbeats(settings: Settings):  # type: ignore[no-untyped-def]
    from adapters.capacity.redis_heartbeat import RedisWorkerCapacity

    return RedisWorkerCapacity.from_url(settings.redis_url, queue_name=settings.queue_name)


class ProductionAdapters(containers.DeclarativeContainer):
    """Postgres (pooled), S3 storage, Dramatiq on Redis; the same names as `EmbeddedAdapters`."""

    core = providers.DependenciesContainer()
    engine = providers.Singleton(_production_engine, core.settings)
    outbox_signal = providers.Singleton(OutboxSignal)  # wakes this process's relay (ADR 0053)
    uow = providers.Factory(SqlAlchemyUnitOfWork, engine, signal=outbox_signal,
                            ledger_key=core.settings.provided.ledger_key)
    storage = providers.Singleton(_production_storage, core.settings, core.clock)
    http_client = providers.Singleton(build_http_client, core.settings)  # closed by AppContainer.close
    image_providers = providers.Singleton(
        StaticProviderRegistry, providers.Callable(provider_map, core.settings, core.clock, http_client))
    inspector = providers.Singleton(build_inspector, core.settings)  # fetches result URLs
    queue = providers.Singleton(_dramatiq_queue, core.settings)
    publisher = providers.Singleton(_redis_events, core.settings)  # SSE sees workers' events
    preview_index = providers.Singleton(_redis_previews, core.settings)  # ADR 0072
    capacity = providers.Singleton(_worker_heartbeats, core.settings)  # processes x threads, live
# --- end production profile --------------------------------------------------------------------


def publishes_after_commit(settings: Settings) -> bool:
    """Whether a submit sends its queue message itself after the commit. Production: no, the
    API process's relay, woken by the commit, sends it in a batch (ADR 0066)."""
    return settings.profile != "production"


class UseCases(containers.DeclarativeContainer):
    """One provider per use case; all of them stateless, so singletons."""

    core = providers.DependenciesContainer()
    adapters = providers.DependenciesContainer()
    _settings = core.settings

    submit_job = providers.Singleton(
        SubmitGeneration, uow=adapters.uow.provider, catalog=core.catalog,
        providers=adapters.image_providers, queue=adapters.queue, clock=core.clock, ids=core.ids,
        publisher=adapters.publisher, reservation_ttl_s=_settings.provided.reservation_ttl_s,
        publish_after_commit=providers.Callable(publishes_after_commit, core.settings))
    fail_or_retry = providers.Singleton(
        FailOrRetry, uow=adapters.uow.provider, queue=adapters.queue, clock=core.clock,
        publisher=adapters.publisher, retry_policy=core.retry_policy, refund_policy=core.refund_policy)
    job_previews = providers.Singleton(
        JobPreviews, index=adapters.preview_index, storage=adapters.storage,
        inspector=adapters.inspector, publisher=adapters.publisher, clock=core.clock)
    lease_keeper = providers.Singleton(
        LeaseKeeper, providers.Singleton(RenewLease, uow=adapters.uow.provider, clock=core.clock,
                                         worker_id=_settings.provided.worker_id,
                                         lease_s=_settings.provided.lease_s),
        core.clock, _settings.provided.lease_s)
    process_job = providers.Singleton(
        ProcessGeneration, uow=adapters.uow.provider, providers=adapters.image_providers,
        previews=job_previews, history_depth=_settings.provided.edit_history_depth,
        inspector=adapters.inspector, storage=adapters.storage, clock=core.clock,
        publisher=adapters.publisher, fail_or_retry=fail_or_retry,
        worker_id=_settings.provided.worker_id, lease_s=_settings.provided.lease_s,
        lease_keeper=lease_keeper)
    relay_outbox = providers.Singleton(RelayOutbox, uow=adapters.uow.provider, queue=adapters.queue,
                                       clock=core.clock)
    cancel_job = providers.Singleton(CancelJob, uow=adapters.uow.provider, clock=core.clock,
                                     publisher=adapters.publisher, providers=adapters.image_providers)
    get_job = providers.Singleton(GetJob, uow=adapters.uow.provider, clock=core.clock,
                                  concurrency=_settings.provided.worker_concurrency,
                                  capacity=adapters.capacity)
    list_jobs = providers.Singleton(ListJobs, uow=adapters.uow.provider)
    get_balance = providers.Singleton(GetBalance, uow=adapters.uow.provider)
    grant_credits = providers.Singleton(GrantCredits, uow=adapters.uow.provider, clock=core.clock)
    audit_ledger = providers.Singleton(AuditLedger, uow=adapters.uow.provider)
    get_image = providers.Singleton(GetImage, uow=adapters.uow.provider, storage=adapters.storage,
                                    url_ttl_s=_settings.provided.image_url_ttl_s)
    # --- API keys (ADR 0090): one cache per process, shared by authenticate and revoke ---
    key_cache = providers.Singleton(KeyCache, clock=core.clock, ttl_s=_settings.provided.auth_cache_ttl_s)
    create_api_key = providers.Singleton(CreateApiKey, uow=adapters.uow.provider, clock=core.clock,
                                         ids=core.ids, starter_credits=_settings.provided.starter_credits,
                                         cache=key_cache)
    authenticate = providers.Singleton(Authenticate, uow=adapters.uow.provider, clock=core.clock,
                                       cache=key_cache, touch_every_s=_settings.provided.key_touch_every_s)
    list_api_keys = providers.Singleton(ListApiKeys, uow=adapters.uow.provider)
    revoke_api_key = providers.Singleton(RevokeApiKey, uow=adapters.uow.provider, clock=core.clock,
                                         cache=key_cache)
    rotate_api_key = providers.Singleton(RotateApiKey, uow=adapters.uow.provider, create=create_api_key,
                                         revoke=revoke_api_key)
    # --- end API keys ---
    prune_retention = providers.Singleton(
        PruneRetention, pruner=providers.Singleton(SqlAlchemyRetentionPruner, adapters.engine),
        clock=core.clock, outbox_s=_settings.provided.retention_outbox_s,
        idempotency_s=_settings.provided.retention_idempotency_s,
        deliveries_s=_settings.provided.retention_deliveries_s)
    ensure_user = providers.Singleton(EnsureUser, uow=adapters.uow.provider, clock=core.clock)
    recover_jobs = providers.Singleton(RecoverJobs, uow=adapters.uow.provider, queue=adapters.queue,
                                       clock=core.clock, fail_or_retry=fail_or_retry,
                                       publisher=adapters.publisher,
                                       awaiting_max_wait_s=_settings.provided.awaiting_max_wait_s)
    # --- async providers and their webhooks (ADR 0023-0025) ---
    handle_provider_callback = providers.Singleton(
        HandleProviderCallback, uow=adapters.uow.provider, queue=adapters.queue, clock=core.clock,
        verifiers=providers.Callable(build_webhook_receivers, core.settings, core.clock,
                                     adapters.http_client))
    resume_job = providers.Singleton(
        ResumeAwaitingJob, uow=adapters.uow.provider, providers=adapters.image_providers,
        finish=process_job.provided.finish, fail_or_retry=fail_or_retry, clock=core.clock,
        publisher=adapters.publisher, max_wait_s=_settings.provided.awaiting_max_wait_s,
        worker_id=_settings.provided.worker_id, lease_s=_settings.provided.lease_s,
        lease_keeper=lease_keeper)
    reconcile_awaiting_jobs = providers.Singleton(
        ReconcileAwaitingJobs, uow=adapters.uow.provider, queue=adapters.queue, clock=core.clock,
        after_s=_settings.provided.awaiting_reconcile_after_s)
    # --- end async providers ---


class AppContainer:
    """The three containers of one process, and its start and stop."""

    def __init__(self, core: Core, adapters: containers.DeclarativeContainer, use_cases: UseCases) -> None:
        self.core, self.adapters, self.use_cases = core, adapters, use_cases
        self._loops: BackgroundLoops | None = None

    @property
    def settings(self) -> Settings:
        return self.core.settings()

    async def start(self, *, run_worker: bool) -> None:
        """Create the schema (embedded) and, if asked, bind the in-process worker."""
        from adapters.persistence.sqlalchemy.engine import create_schema
        from adapters.persistence.sqlalchemy.uow import reseal_unkeyed_ledgers

        if self.settings.profile == "embedded":
            await create_schema(self.adapters.engine())
            if self.settings.ledger_key_created:  # never later: SQL access could re-mark a chain
                await reseal_unkeyed_ledgers(self.adapters.engine(), self.settings.ledger_key)
        if run_worker:
            from entrypoints.in_process_worker import bind_in_process_worker

            await bind_in_process_worker(self)

    def start_background(self, *, relay: bool, reaper: bool, reconcile: bool = False) -> None:
        """Run the outbox relay and/or the reaper periodically on the running loop until `close`."""
        self._loops = self._loops or BackgroundLoops()
        settings, cases = self.settings, self.use_cases
        if relay:
            self._loops.start("relay", settings.relay_interval_s, lambda: cases.relay_outbox()(BATCH),
                              wake=self.adapters.outbox_signal().wait)
        if reaper:
            async def reap() -> int:
                await cases.recover_jobs()(BATCH)
                return 0  # never re-run at once: queued jobs stay due until a worker claims them

            self._loops.start("reaper", settings.reaper_interval_s, reap)
        if reconcile:  # async-provider jobs whose webhook never came (ADR 0025)
            from entrypoints.periodic import reconcile_step

            self._loops.start("reconciler", settings.reconcile_interval_s, reconcile_step(self))

    def start_heartbeat(self, slots: int, *, every_s: float = 10.0) -> None:
        """Report this worker process's `slots` every `every_s` (counted for 3x that)."""
        capacity, worker_id = self.adapters.capacity(), self.settings.worker_id

        async def beat() -> int:
            await capacity.beat(worker_id, slots, ttl_s=3 * every_s)
            return 0

        self._loops = self._loops or BackgroundLoops()
        self._loops.start("heartbeat", every_s, beat)

    def start_configured_loops(self) -> list[str]:
        """Start the loops `settings.loops` names (ADR 0091); return their names.

        `auto`: the relay and retention everywhere, plus the reaper and the reconciler on the
        embedded profile, whose API process is also its worker. `none`: no loop.
        """
        names = resolve_loops(self.settings)
        self.start_background(relay="relay" in names, reaper="reaper" in names,
                              reconcile="reconciler" in names)
        if "retention" in names:
            prune = self.use_cases.prune_retention()

            async def retention() -> int:
                await prune()
                return 0

            self._loops = self._loops or BackgroundLoops()
            self._loops.start("retention", self.settings.retention_interval_s, retention)
        return sorted(names)

    async def close(self) -> None:
        if self._loops is not None:
            await self._loops.stop()
        from entrypoints.watching_container import close_watching  # ADR 0033-0035

        await close_watching(self)
        if hasattr(self.adapters, "http_client"):
            await self.adapters.http_client().aclose()
        previews = self.adapters.preview_index()
        if hasattr(previews, "close"):
            await previews.close()  # the Redis preview index in production
        hub = getattr(self.adapters.publisher(), "hub", None)
        if hub is not None and hasattr(hub, "close"):
            await hub.close()  # the Redis event client in production
        storage = self.adapters.storage()
        if hasattr(storage, "close"):
            storage.close()  # S3's thread pool and connections
        capacity = self.adapters.capacity()
        if hasattr(capacity, "aclose"):
            await capacity.aclose()  # the heartbeat Redis client in production
        queue = self.adapters.queue()
        if hasattr(queue, "close"):
            await queue.close()
        await self.adapters.engine().dispose()


LOOPS = ("relay", "reaper", "reconciler", "retention")


def resolve_loops(settings: Settings) -> set[str]:
    """The loop names `settings.loops` means; ConfigError (IMAGEGEN_LOOPS) for an unknown one."""
    from entrypoints.settings_env import ConfigError

    chosen = set(settings.loops)
    if unknown := chosen - {*LOOPS, "auto", "none"}:
        raise ConfigError("IMAGEGEN_LOOPS", f"unknown loops {sorted(unknown)}; choose from auto, none, "
                          f"{', '.join(LOOPS)}")
    if "none" in chosen:
        return set()
    if "auto" in chosen:
        chosen.discard("auto")
        chosen |= {"relay", "retention"}
        if settings.profile == "embedded":
            chosen |= {"reaper", "reconciler"}
    return chosen


def build_container(settings: Settings) -> AppContainer:
    """Wire the process for `settings.profile`."""
    if settings.profile == "production":
        if not settings.database_url:
            _production_engine(settings)  # ConfigError naming DATABASE_URL, before the ledger key
        core = Core(settings=settings.require_ledger_key())
        adapters: containers.DeclarativeContainer = ProductionAdapters(core=core)
    else:
        settings = settings.with_signing_key().with_ledger_key()
        core = Core(settings=settings)
        adapters = EmbeddedAdapters(core=core)
    from entrypoints.watching_container import install_watching  # webhooks out, metrics (ADR 0033)

    return install_watching(AppContainer(core, adapters, UseCases(core=core, adapters=adapters)))
