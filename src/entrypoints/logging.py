"""structlog configuration: pretty on a terminal, JSON otherwise; contextvars carry request_id,
job_id and user_id. Every standard-library logger (uvicorn, alembic, dramatiq, sqlalchemy,
httpx) goes through the same processors and renderer, so a process writes one format (ADR 0092).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from entrypoints.settings import Settings

_SECRET_KEYS = ("authorization", "api_key", "secret", "signing_key", "password", "token")

#: Libraries that are chatty at INFO; they log at WARNING unless IMAGEGEN_LOG_LEVEL=debug.
_QUIET = ("sqlalchemy.engine", "sqlalchemy.pool", "httpx", "httpcore", "botocore", "boto3",
          "urllib3", "aiosqlite", "asyncio")
#: Loggers that install handlers of their own; ours replace them.
_OWN_HANDLERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "dramatiq", "alembic",
                 "sqlalchemy", "litestar")


def _redact(_: object, __: str, event: dict[str, object]) -> dict[str, object]:
    for key in list(event):
        if any(marker in key.lower() for marker in _SECRET_KEYS):
            event[key] = "[redacted]"
    return event


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]


def configure_logging(settings: Settings, *, stream: Any = None) -> None:
    """Configure structlog and the standard library once, for the whole process."""
    stream = stream or sys.stderr
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    json_output = settings.log_format == "json" or (
        settings.log_format == "auto" and (settings.profile == "production" or not stream.isatty()))
    renderer: Any = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    shared = _shared_processors()
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        # not cached: module-level loggers then follow a later configure_logging (tests, the
        # CLI's quiet default), at a cost of a few microseconds per line
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer])
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in _OWN_HANDLERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in _QUIET:
        logging.getLogger(name).setLevel(level if level <= logging.DEBUG else max(level, logging.WARNING))
