"""The `imagegen` command: argument parsing and dispatch to one coroutine per subcommand.

Exit codes: 0 success, 1 a job or audit failed, 2 bad input or configuration (one line on stderr).
To add a command: a `_<group>(sub)` function adding its parsers here, and its coroutines in
`COMMANDS` (entrypoints/cli_commands.py) under the same names.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

EXIT_FAILED = 1
EXIT_USAGE = 2

EXAMPLES = """examples:
  imagegen generate "a lighthouse at dusk"          # embedded: writes a PNG, prints the balance
  imagegen generate "two ships" -n 2 --size 1536x1024 --out ./images
  imagegen serve                                    # API on 127.0.0.1:8000 (+ worker, embedded)
  imagegen keys create --user alice                 # a key for alice (new users get starter credits)
  imagegen keys list --user alice --json
  imagegen credits grant --user alice --amount 50
  imagegen jobs list --user alice
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Shows `(default: X)` for options that have a meaningful default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("%(default)" not in text and default not in (None, False, argparse.SUPPRESS, [])
                and action.option_strings):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        self.exit(EXIT_USAGE, f"imagegen: error: {message}\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("imagegen-service")
    except PackageNotFoundError:
        return "unknown"


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON on stdout instead of text")


def _user(parser: argparse.ArgumentParser, *, required: bool = False, default: str | None = "local",
          what: str = "the account") -> None:
    if required:
        parser.add_argument("--user", required=True, help=f"user id of {what} (e.g. alice)")
    else:
        parser.add_argument("--user", default=default, help=f"user id of {what}")


def _generate(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    gen = sub.add_parser("generate", help="generate an image on the embedded profile",
                         description="Run one job on the embedded profile and write its PNG files.",
                         epilog='example: imagegen generate "a lighthouse at dusk" -n 2 --size 640x480')
    gen.add_argument("prompt", help="what to draw")
    gen.add_argument("--model", default=None,
                     help="model name, as in the catalog (default: IMAGEGEN_DEFAULT_MODEL, `local`)")
    gen.add_argument("--size", default="1024x1024", help="WIDTHxHEIGHT in pixels")
    gen.add_argument("-n", "--count", dest="count", type=int, default=1, help="number of images (1-8)")
    gen.add_argument("--n", dest="count", type=int, help=argparse.SUPPRESS)  # the old spelling
    gen.add_argument("--seed", type=int, default=None, help="seed for a reproducible image")
    gen.add_argument("--out", default=".", help="directory for the PNG files")
    _user(gen, what="the account to charge")


def _servers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser("serve", help="run the API (and the in-process worker when embedded)",
                           epilog="example: imagegen serve --host 0.0.0.0 --port 8000")
    serve.add_argument("--host", default=None, help="address to bind (default: IMAGEGEN_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default: IMAGEGEN_PORT, 8000)")
    sub.add_parser("migrate", help="create or upgrade the database schema (needs only the database)")
    worker = sub.add_parser("worker", help="run Dramatiq workers (production profile)",
                            epilog="example: imagegen worker --processes 2 --threads 8")
    worker.add_argument("--processes", type=int, default=None, help="worker processes (default: CPUs)")
    worker.add_argument("--threads", type=int, default=None, help="threads per process (default: 8)")
    hooks = sub.add_parser("webhooks", help="run the provider-webhook receiver on its own")
    hooks.add_argument("--host", default=None, help="address to bind (default: IMAGEGEN_HOST)")
    hooks.add_argument("--port", type=int, default=None, help="port (default: IMAGEGEN_PORT)")


def _keys(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = sub.add_parser("keys", help="API keys: create, list, revoke, rotate").add_subparsers(
        dest="action", required=True, parser_class=_Parser)
    create = keys.add_parser("create", help="create a key (and the user, with starter credits)",
                             epilog="example: imagegen keys create --user alice --expires-in-days 90")
    _user(create, required=True, what="the key's owner")
    create.add_argument("--admin", action="store_true",
                        help="make the user an admin (an existing user is promoted, and told so)")
    create.add_argument("--project", default=None, help="project id the key is scoped to")
    create.add_argument("--expires-in-days", type=int, default=None, help="days until the key expires")
    create.add_argument("--json", action="store_true", help="print the key and its id as JSON")
    listing = keys.add_parser("list", help="keys (never their secrets), newest first",
                              epilog="example: imagegen keys list --user alice --json")
    _user(listing, default=None, what="whose keys to list (default: every user)")
    _json(listing)
    for verb, text in (("revoke", "revoke a key (other processes stop accepting it within seconds)"),
                       ("rotate", "issue a new key for the same user and revoke the old one")):
        action = keys.add_parser(verb, help=text, epilog=f"example: imagegen keys {verb} key_01H...")
        action.add_argument("key_id", help="the key's id, as `keys list` shows it")
        _json(action)


def _accounts(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    credits = sub.add_parser("credits", help="credits: grant, show").add_subparsers(
        dest="action", required=True, parser_class=_Parser)
    grant = credits.add_parser("grant", help="grant credits to a user",
                               epilog="example: imagegen credits grant --user alice --amount 50")
    _user(grant, required=True, what="the account to credit")
    grant.add_argument("--amount", type=int, required=True, help="whole credits to add (> 0)")
    grant.add_argument("--reason", default="grant", help="recorded in the ledger")
    grant.add_argument("--create", action="store_true",
                       help="create the user (with starter credits) if it does not exist")
    show = credits.add_parser("show", help="available, reserved and lifetime-spent credits",
                              epilog="example: imagegen credits show --user alice --json")
    _user(show, what="the account")
    _json(show)

    jobs = sub.add_parser("jobs", help="jobs: list, show, cancel").add_subparsers(
        dest="action", required=True, parser_class=_Parser)
    listing = jobs.add_parser("list", help="a user's jobs, newest first",
                              epilog="example: imagegen jobs list --user alice --status failed")
    _user(listing, what="whose jobs")
    listing.add_argument("--status", default=None, help="only jobs in this status (e.g. completed)")
    listing.add_argument("--limit", type=int, default=20, help="how many (1-100)")
    _json(listing)
    for verb, text in (("show", "one job's status, progress, credits and images"),
                       ("cancel", "cancel a queued or running job (its credits are released)")):
        action = jobs.add_parser(verb, help=text, epilog=f"example: imagegen jobs {verb} job_01H...")
        action.add_argument("job_id", help="the job's id")
        _user(action, what="the job's owner")
        _json(action)

    ledger = sub.add_parser("ledger", help="the credit ledger").add_subparsers(
        dest="action", required=True, parser_class=_Parser)
    audit = ledger.add_parser("audit", help="replay every account and compare with the balances")
    audit.add_argument("--account", default=None, help="audit only this account (default: all)")
    _json(audit)
    ledger.add_parser("reseal", help="once after upgrading: seal chains written before the "
                                     "ledger key with it (ADR 0047)")


def _models(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    models = sub.add_parser("models", help="the model catalog: list, check").add_subparsers(
        dest="action", required=True, parser_class=_Parser)
    models.add_parser("list", help="id, provider, upstream id, price, sizes, edit support, status",
                      epilog="example: imagegen models list")
    models.add_parser("check", help="ask each keyed provider's listing; exit 1 naming missing models",
                      epilog="example: imagegen models check")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="imagegen", description="AI image generation jobs with a credit ledger",
                     epilog=EXAMPLES)
    parser.add_argument("-V", "--version", action="version", version=f"imagegen {_version()}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for group in (_generate, _servers, _keys, _accounts, _models):
        group(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from application.errors import ApplicationError, NotFound, ServiceUnavailable
    from domain.errors import DomainError, InsufficientCredits, InvalidRequest
    from entrypoints.cli_commands import COMMANDS
    from entrypoints.logging import configure_logging
    from entrypoints.settings import ConfigError, Settings

    try:
        # The CLI speaks through its own output; logs are for warnings unless asked for.
        overrides = {} if "IMAGEGEN_LOG_LEVEL" in os.environ else {"log_level": "warning"}
        settings = Settings.from_env(**overrides)
    except ConfigError as exc:
        return _usage_error(str(exc))
    configure_logging(settings)
    handler = COMMANDS[args.command]
    try:
        return asyncio.run(handler(args, settings)) or 0
    except ConfigError as exc:
        return _usage_error(str(exc))
    except InsufficientCredits as exc:
        return _usage_error(f"insufficient credits: {exc.requested} needed, {exc.available} available")
    except InvalidRequest as exc:
        return _usage_error(f"{exc.field}: {exc.reason}")
    except NotFound as exc:
        return _usage_error(f"{exc}" + (" (pass --create to create it)" if exc.kind == "user"
                                        and getattr(args, "action", "") == "grant" else ""))
    except ServiceUnavailable as exc:
        print(f"imagegen: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_FAILED
    except (DomainError, ApplicationError) as exc:
        return _usage_error(str(exc))
    except KeyboardInterrupt:
        return 130


def _usage_error(message: str) -> int:
    print(f"imagegen: error: {message}", file=sys.stderr)
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
