"""What each `imagegen` subcommand does, on the container of the configured profile."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec

from application.commands import SubmitJob
from domain.jobs import JobStatus
from entrypoints.cli_progress import ProgressBar
from entrypoints.cli_worker import worker
from entrypoints.container import AppContainer, build_container
from entrypoints.cli_webhooks import webhooks
from entrypoints.model_check import models_check, models_list, start_model_check
from entrypoints.settings import Settings

LOCAL_USER = "local"


async def _with_container(settings: Settings, run_worker: bool,
                          body: Callable[[AppContainer], Awaitable[int]]) -> int:
    container = build_container(settings)
    await container.start(run_worker=run_worker)
    try:
        return await body(container)
    finally:
        await container.close()


async def generate(args: argparse.Namespace, settings: Settings) -> int:
    async def body(c: AppContainer) -> int:
        await c.use_cases.ensure_user()(args.user, starter_credits=settings.starter_credits)
        hub = c.adapters.publisher()
        async with hub.subscribe() as events:
            result = await c.use_cases.submit_job()(SubmitJob(
                user_id=args.user, prompt=args.prompt, model=args.model or settings.default_model,
                size=args.size, n=args.n, seed=args.seed))
            job_id = result.job.id
            await ProgressBar(sys.stderr).follow(events, job_id, c.adapters.queue().drain())
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

    return await _with_container(settings, True, body)


async def serve(args: argparse.Namespace, settings: Settings) -> int:
    from entrypoints.http.app import create_app
    from entrypoints.http.server import run_supervised, server_config

    settings = msgspec.structs.replace(settings, host=args.host or settings.host,
                                       port=args.port or settings.port)
    if settings.profile == "production" and settings.api_workers > 1:
        # several processes on one socket, each with its own container and relay (ADR 0060)
        print(f"imagegen API on {settings.resolved_base_url} with {settings.api_workers} processes "
              "(OpenAPI at /schema)", flush=True)
        run_supervised(settings)  # blocks; the processes run their own event loops
        return 0
    import uvicorn

    # embedded stays one process: SQLite has one writer and the in-process worker lives here
    container = build_container(settings)
    if settings.profile == "embedded":
        await container.start(run_worker=False)
        if await container.use_cases.ensure_user()(LOCAL_USER, starter_credits=settings.starter_credits):
            issued = await container.use_cases.create_api_key()(LOCAL_USER)
            print(f"created user '{LOCAL_USER}' with {settings.starter_credits} credits; "
                  f"API key (shown once): {issued.secret}", flush=True)
    app = create_app(settings, container=container, run_worker=settings.profile == "embedded")
    start_model_check(settings, container.core.model_check())  # logged, never blocking
    print(f"imagegen API on {settings.resolved_base_url} (OpenAPI at /schema)", flush=True)
    server = uvicorn.Server(server_config(app, settings))
    # the outbox relay always; the reaper where this process is also the worker (embedded)
    container.start_background(relay=True, reaper=settings.profile == "embedded",
                               reconcile=settings.profile == "embedded")  # lost webhooks
    await server.serve()
    return 0


async def keys_create(args: argparse.Namespace, settings: Settings) -> int:
    async def body(c: AppContainer) -> int:
        issued = await c.use_cases.create_api_key()(args.user, admin=args.admin, project_id=args.project)
        print(issued.secret)
        return 0

    return await _with_container(settings, False, body)


async def credits_grant(args: argparse.Namespace, settings: Settings) -> int:
    async def body(c: AppContainer) -> int:
        balance = await c.use_cases.grant_credits()(args.user, args.amount, args.reason)
        print(f"granted {args.amount} credits to {args.user}; available {balance.available}")
        return 0

    return await _with_container(settings, False, body)


async def ledger_audit(args: argparse.Namespace, settings: Settings) -> int:
    async def body(c: AppContainer) -> int:
        report = await c.use_cases.audit_ledger()(args.account)
        for account in report.accounts:
            verdict = "ok" if account.ok else "MISMATCH"
            print(f"{account.account_id}: {verdict} ({account.events} events)")
            for problem in account.problems:
                print(f"  - {problem}")
        print(f"{len(report.accounts)} accounts audited: {'all consistent' if report.ok else 'FAILED'}")
        return 0 if report.ok else 1

    return await _with_container(settings, False, body)


async def ledger_reseal(args: argparse.Namespace, settings: Settings) -> int:
    """Re-seal, once after upgrading, the chains written before the ledger key (ADR 0047)."""
    async def body(c: AppContainer) -> int:
        from adapters.persistence.sqlalchemy.uow import reseal_unkeyed_ledgers

        resealed = await reseal_unkeyed_ledgers(c.adapters.engine(), c.settings.ledger_key)
        print(f"re-sealed {resealed} unkeyed ledger chains with the ledger key")
        return 0

    return await _with_container(settings, False, body)


async def migrate(args: argparse.Namespace, settings: Settings) -> int:
    async def body(c: AppContainer) -> int:
        from adapters.persistence.sqlalchemy.engine import create_schema

        await create_schema(c.adapters.engine())  # alembic upgrade heads (embedded start did too)
        print(f"schema is up to date at {settings.resolved_database_url}")
        return 0

    return await _with_container(settings, False, body)


def _dispatch(groups: dict[str, Callable[..., Awaitable[int]]]):  # type: ignore[no-untyped-def]
    async def run(args: argparse.Namespace, settings: Settings) -> int:
        return await groups[args.action](args, settings)

    return run


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], Awaitable[int]]] = {
    "generate": generate,
    "serve": serve,
    "keys": _dispatch({"create": keys_create}),
    "credits": _dispatch({"grant": credits_grant}),
    "ledger": _dispatch({"audit": ledger_audit, "reseal": ledger_reseal}),
    "models": _dispatch({"list": models_list, "check": models_check}),
    "migrate": migrate,
    "worker": worker,
    "webhooks": webhooks,
}
