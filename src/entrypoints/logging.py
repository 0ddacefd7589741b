"""structlog configuration: pretty on a terminal, JSON otherwise; contextvars carry job_id/user_id."""

from __future__ import annotations

import logging
import sys

import structlog

from entrypoints.settings import Settings

_SECRET_KEYS = ("authorization", "api_key", "secret", "signing_key", "password", "token")


def _redact(_: object, __: str, event: dict[str, object]) -> dict[str, object]:
    for key in list(event):
        if any(marker in key.lower() for marker in _SECRET_KEYS):
            event[key] = "[redacted]"
    return event


def configure_logging(settings: Settings) -> None:
    """Configure structlog and the standard library once, for the whole process."""
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    json_output = settings.log_format == "json" or (
        settings.log_format == "auto" and (settings.profile == "production" or not sys.stderr.isatty()))
    renderer = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr, format="%(name)s: %(message)s")
