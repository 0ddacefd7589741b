"""`imagegen keys|credits|jobs|ledger`: the operator's commands on accounts, keys and jobs.

Every read command takes `--json` (one JSON document on stdout, the API's camelCase shapes);
notes for humans, such as the embedded home's path, go to stderr so stdout stays parseable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import msgspec

from application.commands import ListJobsQuery
from domain.accounts import ApiKey
from entrypoints.container import AppContainer, build_container
from entrypoints.http.views import balance_out, job_out
from entrypoints.settings import Settings


def announce_home(settings: Settings) -> None:
    """Say once, on stderr, which embedded state directory this command uses."""
    if settings.profile == "embedded" and not settings.database_url:
        print(f"imagegen: home {settings.home.resolve()}", file=sys.stderr, flush=True)


async def with_container(settings: Settings, run_worker: bool,
                         body: Callable[[AppContainer], Awaitable[int]]) -> int:
    announce_home(settings)
    if settings.profile == "production" and not settings.database_url:  # before anything is built
        from entrypoints.settings_env import ConfigError

        raise ConfigError("DATABASE_URL", "required on the production profile (or IMAGEGEN_DATABASE_URL)")
    container = build_container(settings)
    try:
        await container.start(run_worker=run_worker)
        return await body(container)
    finally:
        await container.close()


def _emit(document: Any) -> None:
    sys.stdout.write(msgspec.json.encode(document).decode() + "\n")


class KeyOut(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    id: str
    user_id: str
    prefix: str
    state: str
    created_at: str
    project_id: str | None = None
    expires_at: str | None = None
    last_used_at: str | None = None
    revoked_at: str | None = None
    secret: str | None = None  # only when the key was just made


def key_out(key: ApiKey, *, now: Any, secret: str | None = None) -> KeyOut:
    iso = lambda t: t.isoformat() if t is not None else None  # noqa: E731
    return KeyOut(id=key.id, user_id=key.user_id, prefix=key.prefix, state=key.state_at(now),
                  created_at=iso(key.created_at), project_id=key.project_id,
                  expires_at=iso(key.expires_at), last_used_at=iso(key.last_used_at),
                  revoked_at=iso(key.revoked_at), secret=secret)


async def keys_create(args: argparse.Namespace, settings: Settings) -> int:
    async def body(c: AppContainer) -> int:
        now = c.core.clock().now()
        expires = now + timedelta(days=args.expires_in_days) if args.expires_in_days else None
        issued = await c.use_cases.create_api_key()(args.user, admin=args.admin, project_id=args.project,
                                                    expires_at=expires)
        if issued.user_created:
            print(f"imagegen: created user '{args.user}'{' (admin)' if args.admin else ''} with "
                  f"{settings.starter_credits} starter credits", file=sys.stderr)
        elif issued.promoted:
            print(f"imagegen: promoted existing user '{args.user}' to admin", file=sys.stderr)
        if args.json:
            _emit(key_out(issued.key, now=now, secret=issued.secret))
        else:
            print(issued.secret)
        return 0

    return await with_container(settings, False, body)


async def keys_list(args: argparse.Namespace, settings: Settings) -> int:
    async def body(c: AppContainer) -> int:
        now = c.core.clock().now()
        keys = await c.use_cases.list_api_keys()(args.user)
        if args.json:
            _emit([key_out(k, now=now) for k in keys])
            return 0
        for k in keys:
            used = k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "never"
            expiry = k.expires_at.isoformat(timespec="seconds") if k.expires_at else "never"
            print(f"{k.id}  {k.user_id}  {k.prefix}...  {k.state_at(now)}  last used {used}  expires {expiry}")
        print(f"{len(keys)} keys", file=sys.stderr)
        return 0

    return await with_container(settings, False, body)


async def keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def body(c: AppContainer) -> int:
        key = await c.use_cases.revoke_api_key()(args.key_id)
        now = c.core.clock().now()
        if args.json:
            _emit(key_out(key, now=now))
        else:
            print(f"revoked {key.id} of {key.user_id} (other processes stop accepting it within "
                  f"{settings.auth_cache_ttl_s:g} s)")
        return 0

    return await with_container(settings, False, body)


async def keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    async def body(c: AppContainer) -> int:
        issued = await c.use_cases.rotate_api_key()(args.key_id)
        if args.json:
            _emit(key_out(issued.key, now=c.core.clock().now(), secret=issued.secret))
        else:
            print(issued.secret)
            print(f"imagegen: {args.key_id} revoked; new key {issued.key.id}", file=sys.stderr)
        return 0

    return await with_container(settings, False, body)


async def credits_grant(args: argparse.Namespace, settings: Settings) -> int:
    async def body(c: AppContainer) -> int:
        if args.create and await c.use_cases.ensure_user()(args.user, starter_credits=settings.starter_credits):
            print(f"imagegen: created user '{args.user}' with {settings.starter_credits} starter credits",
                  file=sys.stderr)
        balance = await c.use_cases.grant_credits()(args.user, args.amount, args.reason, require_user=True)
        print(f"granted {args.amount} credits to {args.user}; available {balance.available}")
        return 0

    return await with_container(settings, False, body)


async def credits_show(args: argparse.Namespace, settings: Settings) -> int:
    async def body(c: AppContainer) -> int:
        balance = await c.use_cases.get_balance()(args.user, require_user=True)
        if args.json:
            _emit(balance_out(balance))
        else:
            print(f"{args.user}: available {balance.available}, reserved {balance.reserved}, "
                  f"lifetime spent {balance.lifetime_spent}")
        return 0

    return await with_container(settings, False, body)


async def jobs_list(args: argparse.Namespace, settings: Settings) -> int:
    async def body(c: AppContainer) -> int:
        page = await c.use_cases.list_jobs()(ListJobsQuery(user_id=args.user, status=args.status,
                                                           limit=args.limit))
        if args.json:
            _emit([job_out(j) for j in page.items])
            return 0
        for j in page.items:
            print(f"{j.id}  {j.status.value:<16} {j.model:<12} {j.created_at.isoformat(timespec='seconds')}"
                  f"  {j.prompt[:40]!r}")
        return 0

    return await with_container(settings, False, body)


async def jobs_show(args: argparse.Namespace, settings: Settings) -> int:
    async def body(c: AppContainer) -> int:
        view = await c.use_cases.get_job()(args.user, args.job_id)
        out = job_out(view.job, queue_position=view.queue_position, images=view.images,
                      eta_seconds=view.eta_seconds)
        if args.json:
            _emit(out)
            return 0
        job = view.job
        print(f"{job.id}: {job.status.value}, {job.progress_percent}% {job.current_step}, "
              f"attempts {job.attempts}, credits {job.charged_credits or job.estimated_credits}")
        if job.error_class:
            print(f"  error: {job.error_class}: {job.error_message}")
        for image in view.images:
            print(f"  image {image.id} ({image.width}x{image.height})")
        return 0

    return await with_container(settings, False, body)


async def jobs_cancel(args: argparse.Namespace, settings: Settings) -> int:
    async def body(c: AppContainer) -> int:
        job = await c.use_cases.cancel_job()(args.user, args.job_id)
        if args.json:
            _emit(job_out(job))
        else:
            print(f"{job.id}: {job.status.value}")
        return 0

    return await with_container(settings, False, body)


async def ledger_audit(args: argparse.Namespace, settings: Settings) -> int:
    async def body(c: AppContainer) -> int:
        report = await c.use_cases.audit_ledger()(args.account)
        if args.json:
            _emit({"ok": report.ok, "accounts": [
                {"accountId": a.account_id, "ok": a.ok, "events": a.events, "problems": list(a.problems)}
                for a in report.accounts]})
            return 0 if report.ok else 1
        for account in report.accounts:
            verdict = "ok" if account.ok else "MISMATCH"
            print(f"{account.account_id}: {verdict} ({account.events} events)")
            for problem in account.problems:
                print(f"  - {problem}")
        print(f"{len(report.accounts)} accounts audited: {'all consistent' if report.ok else 'FAILED'}")
        return 0 if report.ok else 1

    return await with_container(settings, False, body)


ACCOUNT_COMMANDS: dict[str, dict[str, Callable[[argparse.Namespace, Settings], Awaitable[int]]]] = {
    "keys": {"create": keys_create, "list": keys_list, "revoke": keys_revoke, "rotate": keys_rotate},
    "credits": {"grant": credits_grant, "show": credits_show},
    "jobs": {"list": jobs_list, "show": jobs_show, "cancel": jobs_cancel},
    "ledger": {"audit": ledger_audit},
}
