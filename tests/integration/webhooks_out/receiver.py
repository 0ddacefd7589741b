"""A real HTTP receiver on 127.0.0.1 for webhook tests: records requests, answers scripted codes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec


class Received(msgspec.Struct, frozen=True):
    path: str
    headers: dict[str, str]
    body: str


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.codes: list[int] = []  # answered in order; 204 when exhausted
        self.url = ""


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length).decode()
            receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            code = receiver.codes.pop(0) if receiver.codes else 204
            self.send_response(code)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
