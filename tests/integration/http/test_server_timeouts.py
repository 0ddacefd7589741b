"""The real `imagegen serve` closes connections whose request never finishes (ADR 0060)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 1.5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int, str]]:
    """`imagegen serve` (embedded) with small read timeouts: (host, port, the printed API key)."""
    port = _free_port()
    env = {**os.environ, "IMAGEGEN_HOME": str(tmp_path_factory.mktemp("home")),
           "IMAGEGEN_PROFILE": "embedded", "IMAGEGEN_LOG_LEVEL": "warning",
           "IMAGEGEN_HTTP_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S),
           "IMAGEGEN_LEDGER_KEY": "server-timeouts-test-ledger-key-0123456789",
           "IMAGEGEN_HTTP_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S), "IMAGEGEN_HTTP_KEEP_ALIVE_S": "30",
           "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve", "--port", str(port)],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        key, deadline = None, time.monotonic() + 30
        while key is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError(f"imagegen serve exited with {proc.returncode}")
            found = re.search(r"API key \(shown once\): (\S+)", line)
            key = found.group(1) if found else None
        assert key, "imagegen serve printed no first-run API key"
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield "127.0.0.1", port, key
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _closed_after(sock: socket.socket, limit_s: float) -> tuple[float, bytes]:
    """Seconds until the server closes `sock` (reading whatever it sends first)."""
    sock.settimeout(limit_s)
    started, received = time.monotonic(), b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        return float("inf"), received
    return time.monotonic() - started, received


def test_unfinished_headers_are_closed_within_the_header_timeout(served: tuple[str, int, str]) -> None:
    host, port, _ = served
    with socket.create_connection((host, port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # and never the end
        elapsed, received = _closed_after(sock, HEADER_TIMEOUT_S + 5)
    assert elapsed <= HEADER_TIMEOUT_S + 1.5, "the connection with unfinished headers stayed open"
    assert received.startswith(b"HTTP/1.1 408")


def test_a_silent_connection_is_closed_too(served: tuple[str, int, str]) -> None:
    host, port, _ = served
    with socket.create_connection((host, port)) as sock:
        elapsed, _ = _closed_after(sock, HEADER_TIMEOUT_S + 5)
    assert elapsed <= HEADER_TIMEOUT_S + 1.5


def test_a_stalled_body_is_closed_within_the_body_timeout(served: tuple[str, int, str]) -> None:
    host, port, key = served
    with socket.create_connection((host, port)) as sock:
        sock.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"pro")
        elapsed, _ = _closed_after(sock, BODY_TIMEOUT_S + 5)
    assert elapsed <= BODY_TIMEOUT_S + 1.5, "the connection with a stalled body stayed open"


def test_slow_but_complete_requests_and_keep_alive_still_work(served: tuple[str, int, str]) -> None:
    """Headers sent in pieces inside the deadline are served, and the connection is reused."""
    host, port, _ = served
    with socket.create_connection((host, port)) as sock:
        sock.settimeout(5)
        for _ in range(2):
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
            time.sleep(HEADER_TIMEOUT_S / 3)
            sock.sendall(b"Host: x\r\n\r\n")
            answer = _response(sock)
            assert answer.startswith(b"HTTP/1.1 200"), answer
        time.sleep(HEADER_TIMEOUT_S + 0.5)  # idle between requests is the keep-alive's business
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _response(sock).startswith(b"HTTP/1.1 200")


def _response(sock: socket.socket) -> bytes:
    """One whole HTTP/1.1 response (headers and a Content-Length body) from `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, "connection closed inside the body"
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_job_submitted_to_the_served_api_completes(served: tuple[str, int, str]) -> None:
    """The embedded in-process worker still runs inside `serve`."""
    host, port, key = served
    headers = {"Authorization": f"Bearer {key}"}
    created = httpx.post(f"http://{host}:{port}/v1/jobs", headers=headers, timeout=10,
                         json={"prompt": "a lighthouse", "model": "local", "size": "64x64"})
    assert created.status_code == 201, created.text
    job_id, deadline = created.json()["id"], time.monotonic() + 20
    status = "queued"
    while status != "completed" and time.monotonic() < deadline:
        status = httpx.get(f"http://{host}:{port}/v1/jobs/{job_id}", headers=headers, timeout=10).json()["status"]
        time.sleep(0.1)
    assert status == "completed"


def test_production_runs_several_api_processes_with_the_same_timeouts(
        migrated_postgres: str, tmp_path: Path) -> None:
    """IMAGEGEN_API_WORKERS=2: two processes serve one port, submits work, timeouts hold."""
    import redis

    from tests.integration.services import require_redis

    redis_url = require_redis()
    queue, port = f"test_api_workers_{uuid.uuid4().hex[:8]}", _free_port()
    env = {**os.environ, "IMAGEGEN_PROFILE": "production", "DATABASE_URL": migrated_postgres,
           "REDIS_URL": redis_url, "IMAGEGEN_QUEUE_NAME": queue, "IMAGEGEN_S3_BUCKET": "unused",
           "IMAGEGEN_S3_ENDPOINT_URL": "http://127.0.0.1:9", "IMAGEGEN_S3_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "IMAGEGEN_LOG_LEVEL": "warning",
           "IMAGEGEN_API_WORKERS": "2", "IMAGEGEN_PORT": str(port), "IMAGEGEN_RATE_LIMIT_PER_MINUTE": "0",
           "IMAGEGEN_HTTP_HEADER_TIMEOUT_S": str(HEADER_TIMEOUT_S), "IMAGEGEN_LEDGER_KEY": "k" * 32,
           "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    cli = [sys.executable, "-m", "entrypoints.cli"]
    user = f"workers-{uuid.uuid4().hex[:6]}"
    key = subprocess.run([*cli, "keys", "create", "--user", user], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    subprocess.run([*cli, "credits", "grant", "--user", user, "--amount", "50"], env=env, cwd=ROOT,
                   check=True, capture_output=True)
    proc = subprocess.Popen([*cli, "serve"], env=env, cwd=ROOT, stdout=(tmp_path / "serve.log").open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, up = time.monotonic() + 40, False
        while not up and time.monotonic() < deadline and proc.poll() is None:
            try:
                up = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.1)
        assert up, (tmp_path / "serve.log").read_text()[-2000:]
        servers = [p for p in _children(proc.pid) if "spawn_main" in _cmdline(p)]
        assert len(servers) == 2
        for _ in range(4):
            created = httpx.post(f"http://127.0.0.1:{port}/v1/jobs", timeout=10,
                                 headers={"Authorization": f"Bearer {key}"},
                                 json={"prompt": "a lighthouse", "model": "local", "size": "64x64"})
            assert created.status_code == 201, created.text
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            elapsed, _ = _closed_after(sock, HEADER_TIMEOUT_S + 5)
        assert elapsed <= HEADER_TIMEOUT_S + 1.5
        proc.terminate()
        assert proc.wait(timeout=15) is not None
        assert not [p for p in servers if Path(f"/proc/{p}").exists()]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait(5)
        client = redis.Redis.from_url(redis_url)
        for name in client.scan_iter(f"dramatiq:{queue}*"):
            client.delete(name)
        client.close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
