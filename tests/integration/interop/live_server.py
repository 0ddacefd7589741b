"""A real `imagegen serve` in a subprocess on 127.0.0.1 (embedded profile, its own home)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import openai

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url, self.api_key = base_url, api_key

    def client(self, **kw: object) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.base_url}/v1", api_key=self.api_key, max_retries=0,
                             timeout=30, **kw)  # type: ignore[arg-type]


@contextmanager
def live_server(home: Path, *, starter_credits: int) -> Iterator[Server]:
    """Start `imagegen serve`, read the API key it prints, wait for /healthz; stop it after."""
    port = _free_port()
    env = {**os.environ, "IMAGEGEN_HOME": str(home),
           "IMAGEGEN_PROFILE": "embedded", "IMAGEGEN_STARTER_CREDITS": str(starter_credits),
           "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}", "IMAGEGEN_LOG_LEVEL": "warning",
           "IMAGEGEN_RATE_LIMIT_PER_MINUTE": "0"}  # fuzzing and SDK tests send bursts from one key
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        key, deadline = None, time.monotonic() + 30
        assert proc.stdout is not None
        while key is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                raise RuntimeError(f"imagegen serve exited with {proc.returncode}")
            found = re.search(r"API key \(shown once\): (\S+)", line)
            key = found.group(1) if found else None
        assert key, "imagegen serve printed no API key"
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield Server(base, key)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
