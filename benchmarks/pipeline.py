"""The production pipeline end to end: API submit rate, worker throughput, submit->completed.

Usage: uv run python benchmarks/pipeline.py [--seconds 3] [--clients 1,16,64] [--jobs 150]
                                            [--workers 1,2]
Needs Postgres (DATABASE_URL, admin database) and Redis (REDIS_URL; db 14 is flushed). Starts
a moto S3 server in-process, `imagegen serve` (production) and the bare asyncpg baseline under
uvicorn, then `imagegen worker` with 1 and 2 processes; the `local` provider makes 64x64 PNGs.
Client i submits as user i (64 users), so accounts do not contend unless a phase says so.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import boto3
import httpx
import redis
from moto.server import ThreadedMotoServer

sys.path.insert(0, str(Path(__file__).parent))
from load import closed_loop, wait_ready

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

ROOT = Path(__file__).resolve().parent.parent
IMAGEGEN = str(Path(sys.executable).with_name("imagegen"))
ADMIN = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres").replace(
    "postgresql+asyncpg://", "postgresql://")
REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0] + "/14"
BODY = {"prompt": "a lighthouse at dusk", "model": "local", "size": "64x64"}


def database(name: str) -> str:
    return ADMIN.rsplit("/", 1)[0] + f"/{name}"


async def admin(*statements: str) -> None:
    conn = await asyncpg.connect(ADMIN)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def query(dsn: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


def run(env: dict[str, str], *args: str) -> str:
    return subprocess.run([IMAGEGEN, *args], env=env, check=True, capture_output=True, text=True).stdout


def start(argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, cwd=cwd, start_new_session=True)


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(10)


async def make_keys(env: dict[str, str], count: int) -> list[str]:
    """One user with plenty of credits and an API key per simulated client."""
    from entrypoints.container import build_container
    from entrypoints.settings import Settings

    container = build_container(Settings.from_env(env))
    try:
        keys = []
        for index in range(count):
            user = f"bench{index}"
            await container.use_cases.ensure_user()(user, starter_credits=100_000_000)
            keys.append((await container.use_cases.create_api_key()(user)).secret)
        return keys
    finally:
        await container.close()


async def per_client_loop(url: str, keys: list[str], clients: int, seconds: float) -> dict[str, float]:
    """`closed_loop`, but client i submits as user i (different accounts, as in real traffic)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def worker(key: str) -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(url, json=BODY, headers={"Authorization": f"Bearer {key}"})
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker(keys[i % len(keys)]) for i in range(clients)))
        elapsed = time.perf_counter() - began
    p50, p99 = quantiles_ms(sorted(latencies))
    return {"rps": len(latencies) / elapsed, "p50_ms": p50, "p99_ms": p99, "statuses": statuses}  # type: ignore[dict-item]


async def submit_many(url: str, keys: list[str], count: int, clients: int = 16) -> None:
    gate = asyncio.Semaphore(clients)
    async with httpx.AsyncClient(timeout=30) as client:
        async def one(index: int) -> None:
            async with gate:
                response = await client.post(url, json=BODY, headers={
                    "Authorization": f"Bearer {keys[index % len(keys)]}"})
                assert response.status_code == 201, response.text

        await asyncio.gather(*(one(i) for i in range(count)))


async def wait_completed(dsn: str, count: int, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = await query(dsn, "SELECT count(*) AS n FROM jobs WHERE status = 'completed'")
        if rows[0]["n"] >= count:
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"fewer than {count} jobs completed in {timeout_s} s")


def quantiles_ms(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
    return q[49] * 1000, q[98] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--clients", default="1,16,64")
    parser.add_argument("--jobs", type=int, default=150)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    bench_db, base_db = f"imagegen_bench_{tag}", f"imagegen_base_{tag}"
    asyncio.run(admin(f'CREATE DATABASE "{bench_db}"', f'CREATE DATABASE "{base_db}"'))
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                 aws_secret_access_key="x").create_bucket(Bucket="bench")
    redis.Redis.from_url(REDIS).flushdb()
    dsn = database(bench_db)
    env = {**os.environ, "IMAGEGEN_PROFILE": "production", "DATABASE_URL": dsn, "REDIS_URL": REDIS,
           "IMAGEGEN_S3_BUCKET": "bench", "IMAGEGEN_S3_ENDPOINT_URL": endpoint,
           "IMAGEGEN_S3_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
           "IMAGEGEN_LOG_LEVEL": "warning", "IMAGEGEN_REAPER_INTERVAL_S": "3600",
           "IMAGEGEN_RATE_LIMIT_PER_MINUTE": "100000000", "IMAGEGEN_RATE_LIMIT_BURST": "100000000",
           "IMAGEGEN_DB_POOL_SIZE": "10", "IMAGEGEN_DB_MAX_OVERFLOW": "0", "IMAGEGEN_PORT": "8741"}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        run(env, "migrate")
        keys = asyncio.run(make_keys(env, 64))
        procs.append(start([IMAGEGEN, "serve"], env))
        procs.append(start([sys.executable, "-m", "uvicorn", "app_asyncpg:app", "--port", "8742",
                            "--log-level", "warning"], {**env, "BASELINE_DSN": database(base_db)},
                           ROOT / "benchmarks" / "baseline"))
        wait_ready("http://127.0.0.1:8741/healthz")
        wait_ready("http://127.0.0.1:8742/v1/jobs")
        ours_url = "http://127.0.0.1:8741/v1/jobs"
        print("## submit rate (no workers running)")
        print(f"{'clients':>7} {'imagegen req/s':>15} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'baseline req/s':>15} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>6}")
        for clients in [int(c) for c in args.clients.split(",")]:
            ours = asyncio.run(per_client_loop(ours_url, keys, clients, args.seconds))
            bare = asyncio.run(closed_loop("http://127.0.0.1:8742/v1/jobs", BODY, {}, clients, args.seconds))
            print(f"{clients:>7} {ours['rps']:>15.0f} {ours['p50_ms']:>8.1f} {ours['p99_ms']:>8.1f} "
                  f"{bare['rps']:>15.0f} {bare['p50_ms']:>8.1f} {bare['p99_ms']:>8.1f} "
                  f"{ours['rps'] / bare['rps']:>6.2f}   statuses={ours['statuses']}")
        print(f"\n## worker throughput ({args.jobs} queued jobs, local provider 64x64)")
        worker: subprocess.Popen[bytes] | None = None
        for processes in [int(w) for w in args.workers.split(",")]:
            asyncio.run(admin_reset(dsn))
            redis.Redis.from_url(REDIS).flushdb()
            asyncio.run(submit_many(ours_url, keys, args.jobs))
            worker = start([IMAGEGEN, "worker", "--processes", str(processes), "--threads", "8"], env)
            procs.append(worker)
            asyncio.run(wait_completed(dsn, args.jobs))
            row = asyncio.run(query(dsn, "SELECT extract(epoch FROM max(completed_at) - min(started_at)) AS s "
                                         "FROM jobs WHERE status = 'completed'"))[0]
            print(f"{processes} worker process(es) x 8 threads: {args.jobs / float(row['s']):.1f} jobs/s "
                  f"(first claim to last completion {float(row['s']):.2f} s)")
            if processes != int(args.workers.split(",")[-1]):
                stop(worker)
        print("\n## one account, 16 clients (optimistic concurrency on one ledger)")
        one = asyncio.run(per_client_loop(ours_url, keys[:1], 16, args.seconds))
        print(f"{one['rps']:.0f} req/s, p50 {one['p50_ms']:.1f} ms, p99 {one['p99_ms']:.1f} ms, "
              f"statuses={one['statuses']}")
        print("\n## submit -> completed, 4 clients, workers running")
        asyncio.run(admin_reset(dsn))
        asyncio.run(per_client_loop(ours_url, keys, 4, args.seconds))
        count = asyncio.run(query(dsn, "SELECT count(*) AS n FROM jobs"))[0]["n"]
        asyncio.run(wait_completed(dsn, count))
        rows = asyncio.run(query(dsn, "SELECT extract(epoch FROM completed_at - created_at) AS s FROM jobs"))
        p50, p99 = quantiles_ms([float(r["s"]) for r in rows])
        print(f"{count} jobs: p50 {p50:.0f} ms, p99 {p99:.0f} ms")
    finally:
        for proc in procs:
            stop(proc)
        moto.stop()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{bench_db}" WITH (FORCE)',
                          f'DROP DATABASE IF EXISTS "{base_db}" WITH (FORCE)'))


async def admin_reset(dsn: str) -> None:
    """Forget earlier jobs (and their outbox rows) so a phase counts only its own."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DELETE FROM outbox; DELETE FROM images; DELETE FROM jobs")
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
