"""The composition root: containers by role, and `build_container(settings)` choosing a profile.

`EmbeddedAdapters` and `ProductionAdapters` expose the same provider names (a test checks it),
so `UseCases` never knows which profile it runs on. Nothing is built at import time.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.clock import SystemClock
from adapters.events.in_process import InProcessJobEvents
from adapters.ids import UlidIdGenerator
from adapters.image_providers.local import LocalImageProvider
from adapters.image_providers.registry import StaticProviderRegistry
from adapters.images.inspector import PillowImageInspector
from adapters.persistence.sqlalchemy.engine import create_engine
from adapters.persistence.sqlalchemy.uow import SqlAlchemyUnitOfWork
from adapters.storage.local_disk import LocalDiskObjectStorage
from adapters.tasks.in_process import InProcessTaskQueue
from application.ports import Clock, ImageProvider
from application.use_cases.api_keys import Authenticate, CreateApiKey
from application.use_cases.audit_ledger import AuditLedger
from application.use_cases.cancel_job import CancelJob
from application.use_cases.credits import GetBalance, GrantCredits
from application.use_cases.ensure_user import EnsureUser
from application.use_cases.get_image import GetImage
from application.use_cases.get_job import GetJob
from application.use_cases.list_jobs import ListJobs
from application.use_cases.process_generation import ProcessGeneration
from application.use_cases.recover_jobs import RecoverJobs
from application.use_cases.settle_failure import FailOrRetry
from application.use_cases.submit_generation import SubmitGeneration
from domain.catalog import ModelCatalog
from domain.retry import RetryPolicy
from entrypoints.settings import Settings


def provider_map(settings: Settings, clock: Clock) -> dict[str, ImageProvider]:
    """The image providers this deployment can call: `local` always, others when keyed."""
    return {"local": LocalImageProvider(latency_s=settings.local_latency_s,
                                        failure_rate=settings.local_failure_rate, clock=clock)}


class Core(containers.DeclarativeContainer):
    """Settings and the pure services every profile shares."""

    settings = providers.Dependency(instance_of=Settings)
    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UlidIdGenerator)
    catalog = providers.Singleton(ModelCatalog, settings.provided.models)
    retry_policy = providers.Singleton(RetryPolicy)
    refund_policy = providers.Callable(lambda s: s.refund_policy, settings)


class EmbeddedAdapters(containers.DeclarativeContainer):
    """SQLite, local disk with signed URLs, an in-process queue and event hub."""

    core = providers.DependenciesContainer()
    engine = providers.Singleton(create_engine, core.settings.provided.resolved_database_url)
    uow = providers.Factory(SqlAlchemyUnitOfWork, engine)
    storage = providers.Singleton(
        LocalDiskObjectStorage,
        root=providers.Callable(lambda s: s.home / "objects", core.settings),
        base_url=core.settings.provided.resolved_base_url,
        signing_key=core.settings.provided.signing_key,
        clock=core.clock)
    image_providers = providers.Singleton(
        StaticProviderRegistry, providers.Callable(provider_map, core.settings, core.clock))
    inspector = providers.Singleton(PillowImageInspector)
    queue = providers.Singleton(InProcessTaskQueue, concurrency=core.settings.provided.worker_concurrency,
                                clock=core.clock)
    publisher = providers.Singleton(InProcessJobEvents)


class UseCases(containers.DeclarativeContainer):
    """One provider per use case; all of them stateless, so singletons."""

    core = providers.DependenciesContainer()
    adapters = providers.DependenciesContainer()
    _settings = core.settings

    submit_job = providers.Singleton(
        SubmitGeneration, uow=adapters.uow.provider, catalog=core.catalog,
        providers=adapters.image_providers, queue=adapters.queue, clock=core.clock, ids=core.ids,
        publisher=adapters.publisher, reservation_ttl_s=_settings.provided.reservation_ttl_s)
    fail_or_retry = providers.Singleton(
        FailOrRetry, uow=adapters.uow.provider, queue=adapters.queue, clock=core.clock,
        publisher=adapters.publisher, retry_policy=core.retry_policy, refund_policy=core.refund_policy)
    process_job = providers.Singleton(
        ProcessGeneration, uow=adapters.uow.provider, providers=adapters.image_providers,
        inspector=adapters.inspector, storage=adapters.storage, clock=core.clock,
        publisher=adapters.publisher, fail_or_retry=fail_or_retry,
        worker_id=_settings.provided.worker_id, lease_s=_settings.provided.lease_s)
    cancel_job = providers.Singleton(CancelJob, uow=adapters.uow.provider, clock=core.clock,
                                     publisher=adapters.publisher)
    get_job = providers.Singleton(GetJob, uow=adapters.uow.provider)
    list_jobs = providers.Singleton(ListJobs, uow=adapters.uow.provider)
    get_balance = providers.Singleton(GetBalance, uow=adapters.uow.provider)
    grant_credits = providers.Singleton(GrantCredits, uow=adapters.uow.provider, clock=core.clock)
    audit_ledger = providers.Singleton(AuditLedger, uow=adapters.uow.provider)
    get_image = providers.Singleton(GetImage, uow=adapters.uow.provider, storage=adapters.storage,
                                    url_ttl_s=_settings.provided.image_url_ttl_s)
    create_api_key = providers.Singleton(CreateApiKey, uow=adapters.uow.provider, clock=core.clock,
                                         ids=core.ids)
    authenticate = providers.Singleton(Authenticate, uow=adapters.uow.provider)
    ensure_user = providers.Singleton(EnsureUser, uow=adapters.uow.provider, clock=core.clock)
    recover_jobs = providers.Singleton(RecoverJobs, uow=adapters.uow.provider, queue=adapters.queue,
                                       clock=core.clock, fail_or_retry=fail_or_retry)


class AppContainer:
    """The three containers of one process, and its start and stop."""

    def __init__(self, core: Core, adapters: containers.DeclarativeContainer, use_cases: UseCases) -> None:
        self.core, self.adapters, self.use_cases = core, adapters, use_cases

    @property
    def settings(self) -> Settings:
        return self.core.settings()

    async def start(self, *, run_worker: bool) -> None:
        """Create the schema (embedded) and, if asked, bind the in-process worker."""
        from adapters.persistence.sqlalchemy.engine import create_schema

        if self.settings.profile == "embedded":
            await create_schema(self.adapters.engine())
        if run_worker:
            from entrypoints.in_process_worker import bind_in_process_worker

            await bind_in_process_worker(self)

    async def close(self) -> None:
        queue = self.adapters.queue()
        if hasattr(queue, "close"):
            await queue.close()
        await self.adapters.engine().dispose()


def build_container(settings: Settings) -> AppContainer:
    """Wire the process for `settings.profile`."""
    if settings.profile != "embedded":
        raise ValueError(f"profile {settings.profile!r} is not wired in this build; use 'embedded'")
    settings = settings.with_signing_key()
    core = Core(settings=settings)
    adapters = EmbeddedAdapters(core=core)
    return AppContainer(core, adapters, UseCases(core=core, adapters=adapters))
