"""The `imagegen` command: argument parsing and dispatch to one coroutine per subcommand.

Exit codes: 0 success, 1 a job or audit failed, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from application.errors import ApplicationError
from domain.errors import DomainError, InsufficientCredits, InvalidRequest

EXIT_FAILED = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        self.exit(EXIT_USAGE, f"imagegen: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="imagegen", description="AI image generation jobs with a credit ledger")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    gen = sub.add_parser("generate", help="generate an image on the embedded profile")
    gen.add_argument("prompt")
    gen.add_argument("--model", default=None, help="model name (default: the settings' default_model)")
    gen.add_argument("--size", default="1024x1024", help="WIDTHxHEIGHT")
    gen.add_argument("--n", type=int, default=1, help="number of images")
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--out", default=".", help="directory for the PNG files")
    gen.add_argument("--user", default="local", help="account to charge")

    serve = sub.add_parser("serve", help="run the API (and the in-process worker when embedded)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="action", required=True,
                                                                  parser_class=_Parser)
    create = keys.add_parser("create", help="create a key (and the user on first use)")
    create.add_argument("--user", required=True)
    create.add_argument("--admin", action="store_true")
    create.add_argument("--project", default=None)

    credits = sub.add_parser("credits", help="credits").add_subparsers(dest="action", required=True,
                                                                       parser_class=_Parser)
    grant = credits.add_parser("grant", help="grant credits to a user")
    grant.add_argument("--user", required=True)
    grant.add_argument("--amount", type=int, required=True)
    grant.add_argument("--reason", default="grant")

    ledger = sub.add_parser("ledger", help="the credit ledger").add_subparsers(
        dest="action", required=True, parser_class=_Parser)
    audit = ledger.add_parser("audit", help="replay every account and compare with the balances")
    audit.add_argument("--account", default=None)
    ledger.add_parser("reseal", help="once after upgrading: seal chains written before the "
                                     "ledger key with it (ADR 0047)")

    models = sub.add_parser("models", help="the model catalog").add_subparsers(
        dest="action", required=True, parser_class=_Parser)
    models.add_parser("list", help="id, provider, upstream id, price, sizes, edit support, status")
    models.add_parser("check", help="ask each keyed provider's listing; exit 1 naming missing models")

    sub.add_parser("migrate", help="create or upgrade the database schema")
    worker = sub.add_parser("worker", help="run Dramatiq workers (production profile)")
    worker.add_argument("--processes", type=int, default=None)
    worker.add_argument("--threads", type=int, default=None)

    hooks = sub.add_parser("webhooks", help="run the provider-webhook receiver on its own")
    hooks.add_argument("--host", default=None)
    hooks.add_argument("--port", type=int, default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from entrypoints.cli_commands import COMMANDS
    from entrypoints.logging import configure_logging
    from entrypoints.settings import Settings

    try:
        # The CLI speaks through its own output; logs are for warnings unless asked for.
        overrides = {} if "IMAGEGEN_LOG_LEVEL" in os.environ else {"log_level": "warning"}
        settings = Settings.from_env(**overrides)
        if settings.profile == "production":
            settings.require_ledger_key()
    except Exception as exc:  # a bad environment value is bad input too
        return _usage_error(f"settings: {exc}")
    configure_logging(settings)
    handler = COMMANDS[args.command]
    try:
        return asyncio.run(handler(args, settings)) or 0
    except InsufficientCredits as exc:
        return _usage_error(f"insufficient credits: {exc.requested} needed, {exc.available} available")
    except InvalidRequest as exc:
        return _usage_error(f"{exc.field}: {exc.reason}")
    except (DomainError, ApplicationError) as exc:
        return _usage_error(str(exc))
    except KeyboardInterrupt:
        return 130


def _usage_error(message: str) -> int:
    print(f"imagegen: error: {message}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
