"""The examples/ folder, run as a user would against a real `imagegen serve` process."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from domain.webhooks import sign_all

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    home, port = tmp_path_factory.mktemp("serve"), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGEGEN_", "DATABASE_URL"))}
    env.update(IMAGEGEN_HOME=str(home), IMAGEGEN_PORT=str(port), IMAGEGEN_LOG_LEVEL="warning")
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        key = ""
        deadline = time.monotonic() + 60
        assert proc.stdout is not None
        while time.monotonic() < deadline and not key:
            line = proc.stdout.readline()
            if match := re.search(r"API key \(shown once\): (ig_\S+)", line):
                key = match.group(1)
        api = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{api}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert key, "serve printed no key"
        yield {**env, "IMAGEGEN_API": api, "IMAGEGEN_KEY": key}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def run(server: dict[str, str], *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), env=server, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_curl_quickstart_downloads_an_image(server, tmp_path: Path) -> None:
    result = run(server, "sh", str(EXAMPLES / "curl_quickstart.sh"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "status completed" in result.stdout and list(tmp_path.glob("*.png"))


def test_the_sse_watcher_follows_a_job_to_its_end(server, tmp_path: Path) -> None:
    result = run(server, sys.executable, str(EXAMPLES / "watch_job_sse.py"), "a boat", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("status: completed 100%")


def test_the_openai_sdk_example_generates_and_edits(server, tmp_path: Path) -> None:
    result = run(server, sys.executable, str(EXAMPLES / "openai_sdk.py"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "generated out.png; edit answered 1 image(s)" in result.stdout
    assert (tmp_path / "out.png").stat().st_size > 0


def test_the_webhook_receiver_accepts_our_signatures_with_either_secret_of_a_rotation() -> None:
    sys.path.insert(0, str(EXAMPLES))
    try:
        from webhook_receiver import verify  # type: ignore[import-not-found]
        from standardwebhooks.webhooks import WebhookVerificationError
    finally:
        sys.path.remove(str(EXAMPLES))
    old, new = "whsec_" + "A" * 43 + "=", "whsec_" + "B" * 43 + "="
    body = '{"type":"job.completed","timestamp":"2026-12-01T00:00:00Z","data":{"jobId":"job_1"}}'
    ts = int(time.time())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(ts),
               "webhook-signature": sign_all((new, old), "msg_1", ts, body)}
    assert verify(old, body.encode(), headers)["data"]["jobId"] == "job_1"
    assert verify(new, body.encode(), headers)["type"] == "job.completed"
    with pytest.raises(WebhookVerificationError):
        verify("whsec_" + "C" * 43 + "=", body.encode(), headers)
