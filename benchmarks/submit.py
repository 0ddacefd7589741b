"""POST /v1/jobs against a running embedded `imagegen serve`, beside a bare Litestar baseline.

Usage: uv run python benchmarks/submit.py [--seconds 5] [--clients 1,16,64]
Starts both servers itself (uvicorn, one process each, loopback ports), prints requests/s and
p50/p99 per concurrency, and the ratio of imagegen's rate to the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from load import closed_loop, wait_ready  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def start_imagegen(home: str, port: int) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "IMAGEGEN_HOME": home, "IMAGEGEN_PORT": str(port),
           "IMAGEGEN_STARTER_CREDITS": "100000000", "IMAGEGEN_LOG_LEVEL": "warning",
           "IMAGEGEN_RATE_LIMIT_PER_MINUTE": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve"], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(r"API key \(shown once\): (\S+)", line)
        if match:
            return proc, match.group(1)
    raise RuntimeError("imagegen serve printed no API key")


def start_baseline(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "uvicorn", "app_nodb:app", "--port", str(port),
                             "--log-level", "warning"], cwd=ROOT / "benchmarks" / "baseline")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", default="1,16,64")
    args = parser.parse_args()
    body = {"prompt": "a lighthouse at dusk", "size": "64x64"}
    with tempfile.TemporaryDirectory() as home:
        server, key = start_imagegen(home, 8731)
        baseline = start_baseline(8732)
        try:
            wait_ready("http://127.0.0.1:8731/healthz")
            wait_ready("http://127.0.0.1:8732/v1/jobs")
            print(f"{'clients':>7} {'imagegen req/s':>15} {'p50 ms':>8} {'p99 ms':>8} "
                  f"{'baseline req/s':>15} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}")
            for clients in [int(c) for c in args.clients.split(",")]:
                ours = asyncio.run(closed_loop("http://127.0.0.1:8731/v1/jobs", body,
                                               {"Authorization": f"Bearer {key}"}, clients, args.seconds))
                bare = asyncio.run(closed_loop("http://127.0.0.1:8732/v1/jobs", body, {}, clients,
                                               args.seconds))
                print(f"{clients:>7} {ours['rps']:>15.0f} {ours['p50_ms']:>8.1f} {ours['p99_ms']:>8.1f} "
                      f"{bare['rps']:>15.0f} {bare['p50_ms']:>8.1f} {bare['p99_ms']:>8.1f} "
                      f"{ours['rps'] / bare['rps']:>6.2f}   statuses={ours['statuses']}")
        finally:
            server.terminate()
            baseline.terminate()
            server.wait(10)
            baseline.wait(10)


if __name__ == "__main__":
    main()
