"""What each `imagegen` subcommand does, on the container of the configured profile."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec

from application.commands import SubmitJob
from domain.jobs import JobStatus
from entrypoints.cli_accounts import ACCOUNT_COMMANDS, announce_home, with_container
from entrypoints.cli_progress import ProgressBar
from entrypoints.cli_webhooks import webhooks
from entrypoints.cli_worker import worker
from entrypoints.container import AppContainer, build_container, resolve_loops
from entrypoints.model_check import models_check, models_list, start_model_check
from entrypoints.settings import Settings
from entrypoints.settings_env import ConfigError

LOCAL_USER = "local"


async def generate(args: argparse.Namespace, settings: Settings) -> int:
    if settings.profile != "embedded":
        raise ConfigError("IMAGEGEN_PROFILE", "`generate` runs on the embedded profile only; on "
                          "production submit jobs through the API (POST /v1/jobs)")

    async def body(c: AppContainer) -> int:
        await c.use_cases.ensure_user()(args.user, starter_credits=settings.starter_credits)
        hub = c.adapters.publisher()
        async with hub.subscribe() as events:
            result = await c.use_cases.submit_job()(SubmitJob(
                user_id=args.user, prompt=args.prompt, model=args.model or settings.default_model,
                size=args.size, n=args.count, seed=args.seed))
            job_id = result.job.id
            get_job = c.use_cases.get_job()
            await ProgressBar(sys.stderr, clock=c.core.clock(),
                              lookup=lambda: get_job(args.user, job_id)).follow(
                events, job_id, c.adapters.queue().drain())
        view = await c.use_cases.get_job()(args.user, job_id)
        balance = await c.use_cases.get_balance()(args.user)
        job = view.job
        if job.status is not JobStatus.COMPLETED:
            print(f"job {job_id} {job.status.value}: {job.error_class}: {job.error_message}", file=sys.stderr)
            print(f"credits charged: {job.charged_credits or 0}, balance: {balance.available}")
            return 1
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        storage = c.adapters.storage()
        for image in view.images:
            path = out / f"{job_id}-{image.index}.{image.key.rsplit('.', 1)[-1]}"
            path.write_bytes(await storage.get(image.key))
            print(f"wrote {path} ({image.width}x{image.height}, {image.size_bytes} bytes)")
        print(f"job: {job_id}")
        print(f"credits charged: {job.charged_credits}")
        print(f"balance left: {balance.available}")
        return 0

    return await with_container(settings, True, body)


async def serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from entrypoints.http.app import create_app
    from entrypoints.http.server import run_supervised, server_config

    settings = msgspec.structs.replace(settings, host=args.host or settings.host,
                                       port=args.port or settings.port)
    announce_home(settings)
    resolve_loops(settings)  # an unknown IMAGEGEN_LOOPS name is one line now, not a traceback
    if settings.profile == "production":
        from entrypoints.startup_checks import require_current_schema

        await require_current_schema(settings)  # before anything else is built
        if settings.api_workers > 1:
            # several processes on one socket, each with its own container and loops (ADR 0060)
            print(f"imagegen API on {settings.resolved_base_url} with {settings.api_workers} "
                  "processes (OpenAPI at /schema)", flush=True)
            run_supervised(settings)  # blocks; the processes run their own event loops
            return 0
    # embedded stays one process: SQLite has one writer and the in-process worker lives here
    container = build_container(settings)
    try:
        if settings.profile == "embedded":
            await container.start(run_worker=False)
            if await container.use_cases.ensure_user()(LOCAL_USER, starter_credits=settings.starter_credits):
                issued = await container.use_cases.create_api_key()(LOCAL_USER)
                print(f"created user '{LOCAL_USER}' with {settings.starter_credits} credits; "
                      f"API key (shown once): {issued.secret}", flush=True)
        else:
            container.adapters.storage()  # a missing bucket is a one-line error now, not later
    except BaseException:
        await container.close()
        raise
    app = create_app(settings, container=container, run_worker=settings.profile == "embedded")
    start_model_check(settings, container.core.model_check())  # logged, never blocking
    print(f"imagegen API on {settings.resolved_base_url} (OpenAPI at /schema)", flush=True)
    # log_config=None (in server_config): uvicorn's loggers propagate to the root handler,
    # rendered by structlog; our own middleware writes the JSON access log.
    server = uvicorn.Server(server_config(app, settings))
    await server.serve()  # the app's lifespan starts the background loops (settings.loops)
    return 0


async def ledger_reseal(args: argparse.Namespace, settings: Settings) -> int:
    """Re-seal, once after upgrading, the chains written before the ledger key (ADR 0047)."""
    async def body(c: AppContainer) -> int:
        from adapters.persistence.sqlalchemy.uow import reseal_unkeyed_ledgers

        resealed = await reseal_unkeyed_ledgers(c.adapters.engine(), c.settings.ledger_key)
        print(f"re-sealed {resealed} unkeyed ledger chains with the ledger key")
        return 0

    return await with_container(settings, False, body)


async def migrate(args: argparse.Namespace, settings: Settings) -> int:
    """`alembic upgrade heads` on the configured database; needs nothing else (no S3, no Redis)."""
    from adapters.persistence.sqlalchemy.engine import create_engine, create_schema, translated_errors

    announce_home(settings)
    if settings.profile == "production" and not settings.database_url:
        raise ConfigError("DATABASE_URL", "required on the production profile (or IMAGEGEN_DATABASE_URL)")
    if settings.profile == "embedded":
        settings.home.mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.resolved_database_url)
    try:
        with translated_errors("migrate the database"):
            await create_schema(engine)
    finally:
        await engine.dispose()
    print(f"schema is up to date at {_redacted(settings.resolved_database_url)}")
    return 0


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _dispatch(groups: dict[str, Callable[..., Awaitable[int]]]):  # type: ignore[no-untyped-def]
    async def run(args: argparse.Namespace, settings: Settings) -> int:
        return await groups[args.action](args, settings)

    return run


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], Awaitable[int]]] = {
    "generate": generate,
    "serve": serve,
    "migrate": migrate,
    "worker": worker,
    "webhooks": webhooks,
    "models": _dispatch({"list": models_list, "check": models_check}),
    **{group: _dispatch(actions) for group, actions in ACCOUNT_COMMANDS.items()},
    "ledger": _dispatch({**ACCOUNT_COMMANDS["ledger"], "reseal": ledger_reseal}),
}
