"""The ASGI server: uvicorn on uvloop with httptools' C parser, plus request read timeouts (ADR 0060).

uvicorn has a keep-alive timeout but none for reading a request: a client that sends half its
headers, or trickles its body, holds a connection (and its memory) for ever. `ReadTimeoutProtocol`
closes a connection whose request headers are not complete `header_timeout_s` after its first
byte (or after the connection opened), and one whose body stalls for `body_timeout_s` between
chunks. With `IMAGEGEN_API_WORKERS` > 1 (production only) uvicorn's supervisor runs that many
processes on one socket, each building its own container from the environment.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from entrypoints.settings import Settings

_408 = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class ReadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header deadline and a body inactivity timeout."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._read_timer: asyncio.TimerHandle | None = None
        self._arm(self.header_timeout_s, headers=True)  # a connection that never speaks, too

    def data_received(self, data: bytes) -> None:
        if self._read_timer is None and self.cycle is not None and self.cycle.response_complete:
            self._arm(self.header_timeout_s, headers=True)  # the next request on a kept-alive connection
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._arm(self.body_timeout_s, headers=False)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._arm(self.body_timeout_s, headers=False)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float, *, headers: bool) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, self._read_timed_out, headers)

    def _disarm(self) -> None:
        timer = getattr(self, "_read_timer", None)
        if timer is not None:
            timer.cancel()
            self._read_timer = None

    def _read_timed_out(self, headers: bool) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if headers:  # no request has started: tell the client before closing
            self.transport.write(_408)
        self.transport.close()


def configure_timeouts(settings: Settings) -> None:
    """Apply the settings' read timeouts to this process's protocol class."""
    ReadTimeoutProtocol.header_timeout_s = settings.http_header_timeout_s
    ReadTimeoutProtocol.body_timeout_s = settings.http_body_timeout_s


def server_config(app: Any, settings: Settings, **overrides: Any):  # type: ignore[no-untyped-def]
    """The uvicorn configuration `imagegen serve` runs: uvloop, httptools with read timeouts."""
    import uvicorn

    configure_timeouts(settings)
    options: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "log_level": "warning", "access_log": False,
        "log_config": None,  # uvicorn's loggers go through structlog (ADR 0092)
        "lifespan": "on", "loop": "uvloop", "http": ReadTimeoutProtocol,
        "timeout_keep_alive": settings.http_keep_alive_s, "backlog": 2048,
        "limit_concurrency": settings.http_max_connections or None}
    options.update(overrides)
    return uvicorn.Config(app, **options)


def run_supervised(settings: Settings) -> None:
    """Run `settings.api_workers` API processes on one socket (production): blocks until stopped."""
    from uvicorn.supervisors import Multiprocess

    config = server_config("entrypoints.http.asgi:production_app", settings, factory=True,
                           workers=settings.api_workers)
    Multiprocess(config, sockets=[config.bind_socket()]).run()
