"""Wiring of the client-facing request features: idempotency, rate limits, batches, retry,
ledger history, stats and admin. `app.py` asks this module for dependencies, handlers and
middleware; the providers live in their own container, built once per `AppContainer`.
"""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers
from litestar.di import Provide
from litestar.middleware import DefineMiddleware

from adapters.persistence.sqlalchemy.idempotency import SqlAlchemyIdempotencyStore
from adapters.persistence.sqlalchemy.stats import SqlAlchemyStatsReader
from adapters.rate_limit.memory import InMemoryRateLimiter
from application.use_cases.admin_grant import AdminGrant
from application.use_cases.list_balances import ListBalances
from application.use_cases.set_plan import SetPlan
from application.use_cases.get_batch import GetBatch
from application.use_cases.job_stats import JobStats
from application.use_cases.ledger_history import LedgerHistory
from application.use_cases.retry_job import RetryJob
from application.use_cases.submit_batch import SubmitBatch
from domain.rate_limit import RateLimit
from entrypoints.container import AppContainer, publishes_after_commit
from entrypoints.http.middleware_body_guard import BodyGuardMiddleware
from entrypoints.http.middleware_idempotency import IdempotencyMiddleware
from entrypoints.http.middleware_rate_limit import RateLimitMiddleware
from entrypoints.http.routes_admin import admin_balances, admin_grant, admin_set_plan
from entrypoints.http.routes_batches import create_batch, read_batch, retry_job_route
from entrypoints.http.routes_insights import credit_events, read_stats
from entrypoints.settings import Settings


def _redis_rate_limiter(settings: Settings) -> Any:
    import redis.asyncio as redis

    from adapters.rate_limit.redis import RedisRateLimiter

    pool = redis.BlockingConnectionPool.from_url(  # bounded: exhausted means 503, never "let through"
        settings.redis_url, max_connections=settings.rate_limit_pool_size,
        timeout=settings.rate_limit_pool_timeout_s, socket_timeout=0.5, socket_connect_timeout=0.5)
    return RedisRateLimiter(redis.Redis(connection_pool=pool))


class RequestFeatures(containers.DeclarativeContainer):
    core = providers.DependenciesContainer()
    adapters = providers.DependenciesContainer()
    use_cases = providers.DependenciesContainer()
    _s = core.settings

    idempotency_store = providers.Singleton(SqlAlchemyIdempotencyStore, adapters.engine)
    stats_reader = providers.Singleton(SqlAlchemyStatsReader, adapters.engine)
    rate_limiter = providers.Selector(
        _s.provided.profile,
        embedded=providers.Singleton(InMemoryRateLimiter, core.clock),
        production=providers.Singleton(_redis_rate_limiter, _s))

    retry_job = providers.Singleton(RetryJob, uow=adapters.uow.provider, submit=use_cases.submit_job)
    submit_batch = providers.Singleton(
        SubmitBatch, uow=adapters.uow.provider, catalog=core.catalog,
        providers=adapters.image_providers, queue=adapters.queue, clock=core.clock, ids=core.ids,
        publisher=adapters.publisher, reservation_ttl_s=_s.provided.reservation_ttl_s,
        publish_after_commit=providers.Callable(publishes_after_commit, core.settings))
    get_batch = providers.Singleton(GetBatch, uow=adapters.uow.provider)
    ledger_history = providers.Singleton(LedgerHistory, uow=adapters.uow.provider)
    job_stats = providers.Singleton(JobStats, reader=stats_reader, clock=core.clock,
                                    sample_limit=_s.provided.stats_sample_limit)
    set_plan = providers.Singleton(SetPlan, uow=adapters.uow.provider)
    list_balances = providers.Singleton(ListBalances, lister=stats_reader)
    admin_grant_credits = providers.Singleton(AdminGrant, uow=adapters.uow.provider,
                                              grant=use_cases.grant_credits)


USE_CASES = ("retry_job", "submit_batch", "get_batch", "ledger_history", "job_stats", "set_plan",
             "list_balances", "admin_grant_credits")
HANDLERS = [create_batch, read_batch, retry_job_route, credit_events, read_stats, admin_grant,
            admin_set_plan, admin_balances]


def features_of(container: AppContainer) -> RequestFeatures:
    """The container's `RequestFeatures`, built on first use."""
    features = getattr(container, "request_features", None)
    if features is None:
        features = RequestFeatures(core=container.core, adapters=container.adapters,
                                   use_cases=container.use_cases)
        container.request_features = features  # type: ignore[attr-defined]
    return features


def request_dependencies(container: AppContainer) -> dict[str, Provide]:
    features = features_of(container)

    def provider(name: str) -> Provide:
        instance = getattr(features, name)
        return Provide(lambda: instance(), use_cache=True, sync_to_thread=False)

    return {name: provider(name) for name in USE_CASES}


def request_middleware(container: AppContainer) -> list[DefineMiddleware]:
    """Rate limiting (outermost), then the input bounds (ADR 0080), then idempotency; all see
    every route."""
    features, settings = features_of(container), container.settings
    limit = None
    if settings.rate_limit_per_minute > 0:
        limit = RateLimit(per_minute=settings.rate_limit_per_minute, burst=settings.rate_limit_burst)
    return [
        DefineMiddleware(RateLimitMiddleware, limiter=features.rate_limiter(), limit=limit),
        DefineMiddleware(BodyGuardMiddleware, max_body_bytes=settings.max_body_bytes),
        DefineMiddleware(IdempotencyMiddleware, store=features.idempotency_store(),
                         authenticate=container.use_cases.authenticate(), clock=container.core.clock(),
                         max_body_bytes=settings.max_body_bytes),
    ]
