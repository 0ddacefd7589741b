"""The real `imagegen webhooks` (the standalone provider-webhook receiver) closes connections
whose request never finishes, like `imagegen serve` (ADR 0060, 0058)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.http.test_server_timeouts import (
    BODY_TIMEOUT_S, HEADER_TIMEOUT_S, ROOT, _closed_after, _free_port,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    port = _free_port()
    env = {**os.environ, "IMAGEGEN_HOME": str(tmp_path_factory.mktemp("home")),
           "IMAGEGEN_PROFILE": "embedded", "IMAGEGEN_LOG_LEVEL": "warning",
           "IMAGEGEN_HTTP_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
           "IMAGEGEN_HTTP_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S), "IMAGEGEN_HTTP_KEEP_ALIVE_S": "30",
           "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "webhooks", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"imagegen webhooks exited with {proc.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "imagegen webhooks never answered /healthz"
                time.sleep(0.05)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_unfinished_headers_are_closed_within_the_header_timeout(receiver: tuple[str, int]) -> None:
    with socket.create_connection(receiver) as sock:
        sock.sendall(b"POST /webhooks/replicate HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the end
        elapsed, received = _closed_after(sock, HEADER_TIMEOUT_S + 5)
    assert elapsed <= HEADER_TIMEOUT_S + 1.5, "the connection with unfinished headers stayed open"
    assert received.startswith(b"HTTP/1.1 408")


def test_a_stalled_body_is_closed_within_the_body_timeout(receiver: tuple[str, int]) -> None:
    with socket.create_connection(receiver) as sock:
        sock.sendall(b"POST /webhooks/replicate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"id")
        elapsed, _ = _closed_after(sock, BODY_TIMEOUT_S + 5)
    assert elapsed <= BODY_TIMEOUT_S + 1.5, "the connection with a stalled body stayed open"
