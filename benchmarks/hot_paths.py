"""The hot paths of DESIGN.md section 5 (P1-P8, E1), each beside its bare baseline, in one run.

Usage: uv run python benchmarks/hot_paths.py [--quick] [--only P1,P4,...]

HTTP load comes from wrk only (Debian package `wrk`; installed with apt-get when missing and
running as root). Everything runs on 127.0.0.1 and is started and stopped here: API processes on
random ports, fresh Postgres databases (created and dropped), Redis queues with unique names,
a moto S3 server (P3, P8), a fake OpenAI upstream (P5). The baselines are in benchmarks/baseline/.
Every figure is printed as one line:

    <ID> ours=<x> base=<y> ratio=<r> target=<t> PASS|FAIL

Full run: 20 s per wrk measurement (after a 3 s warm-up), P4 on 1,000,000 ledger events.
--quick:  6 s per wrk measurement (2 s warm-up), P4 on 200,000 events; under five minutes.
Needs Postgres (DATABASE_URL or postgresql://postgres@127.0.0.1:5432/postgres as the admin
database) and Redis (REDIS_URL, default redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
BASELINE = BENCH / "baseline"
WRK_DIR = BENCH / "wrk"
sys.path.insert(0, str(ROOT / "src"))

PY = sys.executable
IMAGEGEN = str(Path(sys.executable).with_name("imagegen"))
ADMIN = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres").replace(
    "postgresql+asyncpg://", "postgresql://")
REDIS = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
USERS = 64


# --- processes -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Procs:
    """Every process this run started (each in its own session), stopped by its group id."""

    items: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: Path = Path(tempfile.mkdtemp(prefix="hot_paths_logs_"))

    def start(self, name: str, argv: list[str], env: dict[str, str],
              cwd: Path = ROOT) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.items.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(8)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        if proc in self.items:
            self.items.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.items):
            self.stop(proc)


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout_s} s")


def baseline_server(module: str, port: int) -> list[str]:
    """The baselines run under the same ASGI server, loop and parser as `imagegen serve`
    (uvicorn, uvloop, httptools: ADR 0060), one process each."""
    return [PY, "-m", "uvicorn", f"{module}:app", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log", "--loop", "uvloop", "--http", "httptools"]


# --- memory (P6) -----------------------------------------------------------------------------------
def status_kb(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """Every live descendant of `pid` (from /proc/*/stat parent ids)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class RssSampler:
    """Samples VmRSS of some processes every 0.2 s in a thread; keeps the peak per pid."""

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self._pids, self.peak = pids, {}  # type: ignore[var-annotated]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for pid in self._pids():
                self.peak[pid] = max(self.peak.get(pid, 0), status_kb(pid, "VmRSS"))
            self._stop.wait(0.2)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class profiled:
    """With --profile DIR: py-spy records `pid` (a flame graph SVG and raw top-of-stack counts)."""

    def __init__(self, cfg: argparse.Namespace, name: str, *pids: int) -> None:
        self._argv: list[str] | None = None
        spy = shutil.which("py-spy")
        if cfg.profile and spy and pids:
            out = Path(cfg.profile) / name
            self._argv = [spy, "record", "--pid", str(pids[0]), "--rate", "200", "--format", "raw",
                          "--output", f"{out}.txt", "--nonblocking"]
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> profiled:
        if self._argv:
            self._proc = subprocess.Popen(self._argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGINT)
            self._proc.wait(30)


# --- wrk -------------------------------------------------------------------------------------------
def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("# wrk is missing: apt-get install -y wrk", flush=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit("hot_paths: wrk is required: `sudo apt-get install -y wrk` (Debian/Ubuntu package wrk)")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    non2xx: int
    errors: str
    extra: dict[str, int]


def wrk(url: str, *, connections: int, seconds: float, script: str, args: list[str] = (),  # type: ignore[assignment]
        threads: int | None = None) -> WrkResult:
    threads = threads or min(2, connections)
    argv = [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
            "--timeout", "10s", "-s", str(WRK_DIR / script), url]
    if args:
        argv += ["--", *args]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", out, re.M))
    if "99" not in pct:
        raise RuntimeError(f"wrk printed no latency distribution:\n{out}")
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    extra = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", out.split("Transfer/sec")[-1])}
    return WrkResult(rps=rps, p50_ms=_ms(pct["50"]), p99_ms=_ms(pct["99"]), requests=requests,
                     non2xx=int(non2xx.group(1)) if non2xx else 0,
                     errors=errors.group(1) if errors else "", extra=extra)


# --- output ----------------------------------------------------------------------------------------
RESULTS: list[str] = []


def _num(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def line(ident: str, ours: float, base: float | None, target: str, ok: bool, note: str = "") -> None:
    ratio = f"{ours / base:.2f}" if base else "-"
    base_text = _num(base) if base is not None else "-"
    text = (f"{ident} ours={_num(ours)} base={base_text} ratio={ratio} target={target} "
            f"{'PASS' if ok else 'FAIL'}")
    RESULTS.append(text)
    print(text + (f"   # {note}" if note else ""), flush=True)


# --- Postgres and Redis ----------------------------------------------------------------------------
def dsn(name: str) -> str:
    return ADMIN.rsplit("/", 1)[0] + f"/{name}"


async def admin(*statements: str) -> None:
    conn = await asyncpg.connect(ADMIN)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def redis_cleanup(*queues: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS)
    for queue in queues:
        for key in client.scan_iter(f"dramatiq:{queue}*"):
            client.delete(key)
    client.close()


def redis_hlen(key: str) -> int:
    import redis

    client = redis.Redis.from_url(REDIS)
    try:
        return int(client.hlen(key))
    finally:
        client.close()


# --- the project's own set-up (not measured) ---------------------------------------------------------
async def make_keys(env: dict[str, str], count: int) -> list[str]:
    """One user per simulated client, with plenty of credits and an API key each."""
    from entrypoints.container import build_container
    from entrypoints.settings import Settings

    container = build_container(Settings.from_env(env))
    await container.start(run_worker=False)  # creates the embedded schema
    try:
        keys = []
        for index in range(count):
            user = f"bench{index}"
            await container.use_cases.ensure_user()(user, starter_credits=1_000_000_000)
            keys.append((await container.use_cases.create_api_key()(user)).secret)
        return keys
    finally:
        await container.close()


def keys_file(keys: list[str]) -> str:
    handle = tempfile.NamedTemporaryFile("w", prefix="hot_paths_keys_", suffix=".txt", delete=False)
    handle.write("\n".join(keys) + "\n")
    handle.close()
    return handle.name


def quantiles_ms(seconds: list[float]) -> tuple[float, float]:
    if len(seconds) < 2:
        return (seconds[0] * 1000, seconds[0] * 1000) if seconds else (float("nan"), float("nan"))
    q = statistics.quantiles(seconds, n=100, method="inclusive")
    return q[49] * 1000, q[98] * 1000


#: The ledger key every production process of the benchmark runs with (ADR 0047).
LEDGER_KEY = "hot-paths-benchmark-ledger-key-0123456789"


def common_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGEN_")}
    env.pop("DATABASE_URL", None)
    env.update({"IMAGEGEN_LOG_LEVEL": "warning", "IMAGEGEN_RATE_LIMIT_PER_MINUTE": "0",
                "IMAGEGEN_STARTER_CREDITS": "1000000000", "PYTHONUNBUFFERED": "1",
                "IMAGEGEN_LEDGER_KEY": LEDGER_KEY})
    env.update(extra)
    return env


# --- production: P1, P2, P3, P8, P6 ----------------------------------------------------------------
def production(cfg: argparse.Namespace, procs: Procs, only: set[str]) -> None:
    tag = uuid.uuid4().hex[:8]
    ours_db, base_db = f"hot_paths_{tag}", f"hot_paths_base_{tag}"
    queue, noop_queue = f"hot_paths_{tag}", f"hot_paths_noop_{tag}"
    asyncio.run(admin(f'CREATE DATABASE "{ours_db}"', f'CREATE DATABASE "{base_db}"'))
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    moto.start()
    try:
        host, mport = moto.get_host_and_port()
        endpoint = f"http://{host}:{mport}"
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                     aws_secret_access_key="x").create_bucket(Bucket="bench")
        port, base_port = free_port(), free_port()
        env = common_env(
            IMAGEGEN_PROFILE="production", DATABASE_URL=dsn(ours_db), REDIS_URL=REDIS,
            IMAGEGEN_QUEUE_NAME=queue, IMAGEGEN_S3_BUCKET="bench", IMAGEGEN_S3_ENDPOINT_URL=endpoint,
            IMAGEGEN_S3_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
            IMAGEGEN_REAPER_INTERVAL_S="3600", IMAGEGEN_PORT=str(port))
        subprocess.run([IMAGEGEN, "migrate"], env=env, check=True, capture_output=True)
        keys = keys_file(asyncio.run(make_keys(env, USERS)))
        api = procs.start("api_production", [IMAGEGEN, "serve"], env)
        base = procs.start("base_asyncpg", baseline_server("app_asyncpg", base_port),
                           {**env, "BASELINE_DSN": dsn(base_db)}, BASELINE)
        ours_url, base_url = f"http://127.0.0.1:{port}/v1/jobs", f"http://127.0.0.1:{base_port}/v1/jobs"
        wait_http(f"http://127.0.0.1:{port}/healthz", api)
        wait_http(base_url, base)
        api_rss = RssSampler(lambda: [api.pid, *descendants(api.pid)])
        if only & {"P1", "P2", "P6", "P3"}:
            for url in (ours_url, base_url):  # warm-up: connections, caches, JIT-free but lazy imports
                wrk(url, connections=64, seconds=cfg.warmup, script="post_job.lua", args=[keys])
            with api_rss, profiled(cfg, "P1-api", api.pid):
                ours64 = wrk(ours_url, connections=64, seconds=cfg.seconds, script="post_job.lua", args=[keys])
            base64 = wrk(base_url, connections=64, seconds=cfg.seconds, script="post_job.lua", args=[keys])
            ours1 = wrk(ours_url, connections=1, seconds=cfg.seconds, script="post_job.lua", args=[keys])
            base1 = wrk(base_url, connections=1, seconds=cfg.seconds, script="post_job.lua", args=[keys])
            line("P1", ours64.rps, base64.rps, ">=0.7", ours64.rps / base64.rps >= 0.7,
                 f"req/s at 64 connections; ours 5xx={ours64.extra.get('5xx', 0)} "
                 f"non2xx={ours64.non2xx} {ours64.errors}")
            line("P2a", ours1.p50_ms, base1.p50_ms, "<=2.0", ours1.p50_ms / base1.p50_ms <= 2.0,
                 f"p50 ms at 1 connection ({ours1.rps:.0f} vs {base1.rps:.0f} req/s)")
            line("P2b", ours64.p99_ms, base64.p99_ms, "<=1.5", ours64.p99_ms / base64.p99_ms <= 1.5,
                 f"p99 ms at 64 connections (p50 {ours64.p50_ms:.1f} vs {base64.p50_ms:.1f})")
            peak = max(api_rss.peak.values() or [0]) / 1024
            hwm = status_kb(api.pid, "VmHWM") / 1024
            line("P6-api", peak, None, "<=150MB", peak <= 150, f"MB VmRSS peak during P1, VmHWM {hwm:.0f} MB")
        procs.stop(base)
        if only & {"P3", "P6", "P8"}:
            total = asyncio.run(fetch(dsn(ours_db), "SELECT count(*) AS n FROM jobs"))[0]["n"]
            if total == 0 and "P3" in only:  # P3 alone: queue a backlog first
                wrk(ours_url, connections=16, seconds=cfg.seconds, script="post_job.lua", args=[keys])
                total = asyncio.run(fetch(dsn(ours_db), "SELECT count(*) AS n FROM jobs"))[0]["n"]
            wait_for(lambda: asyncio.run(fetch(dsn(ours_db), "SELECT count(*) AS n FROM outbox "
                                                             "WHERE dispatched_at IS NULL"))[0]["n"] == 0,
                     120, "the outbox relay to publish the backlog")
            worker = procs.start("worker", [IMAGEGEN, "worker", "--processes", "2", "--threads", "8"], env)
            worker_rss = RssSampler(lambda: descendants(worker.pid) + [worker.pid])
            with worker_rss, profiled(cfg, "P3-worker", *descendants(worker.pid)[-1:]):
                wait_for(lambda: asyncio.run(fetch(
                    dsn(ours_db), "SELECT count(*) AS n FROM jobs WHERE status IN "
                                  "('completed','failed','cancelled')"))[0]["n"] >= total,
                         cfg.drain_timeout, f"{total} jobs to finish")
                row = asyncio.run(fetch(dsn(ours_db), "SELECT count(*) AS n, extract(epoch FROM "
                                        "max(completed_at) - min(started_at)) AS s FROM jobs "
                                        "WHERE status = 'completed'"))[0]
                ours_rate = row["n"] / float(row["s"])
                base_rate = noop_drain(procs, env, noop_queue, max(total, 2000))
                line("P3", ours_rate, base_rate, ">=0.25", ours_rate / base_rate >= 0.25,
                     f"jobs/s, {row['n']} jobs, 2 worker processes x 8 threads vs no-op msg/s")
                if "P8" in only:
                    p8(cfg, "P8-prod", f"http://127.0.0.1:{port}", keys, dsn(ours_db), None)
            for pid, kb in sorted(worker_rss.peak.items()):
                if kb:
                    line(f"P6-worker-{pid}", kb / 1024, None, "<=150MB", kb / 1024 <= 150,
                         "MB VmRSS peak during P3/P8")
            procs.stop(worker)
        procs.stop(api)
    finally:
        procs.stop_all()
        moto.stop()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{ours_db}" WITH (FORCE)',
                          f'DROP DATABASE IF EXISTS "{base_db}" WITH (FORCE)'))
        redis_cleanup(queue, noop_queue)


def wait_for(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


def noop_drain(procs: Procs, env: dict[str, str], queue: str, count: int) -> float:
    """Enqueue `count` no-op messages, start 2 Dramatiq processes, time first take to empty."""
    benv = {**env, "BENCH_QUEUE": queue, "PYTHONPATH": str(BASELINE)}
    subprocess.run([PY, "dramatiq_noop.py", str(count)], env=benv, cwd=BASELINE, check=True)
    key = f"dramatiq:{queue}.msgs"
    drain = procs.start("base_dramatiq", [PY, "-m", "dramatiq", "dramatiq_noop", "--processes", "2",
                                          "--threads", "8"], benv, BASELINE)
    try:
        wait_for(lambda: redis_hlen(key) < count, 60, "the no-op workers to start")
        first, left = time.perf_counter(), redis_hlen(key)
        wait_for(lambda: redis_hlen(key) == 0, 120, "the no-op drain")
        return left / (time.perf_counter() - first)
    finally:
        procs.stop(drain)


def p8(cfg: argparse.Namespace, ident: str, root: str, keys: str, db_url: str | None,
       sqlite: Path | None) -> None:
    """4 clients, each submitting a 64x64 job and polling it to completion; latency from the rows."""
    since = datetime.now(UTC) - timedelta(seconds=1)
    result = wrk(root, connections=4, threads=4, seconds=cfg.seconds, script="submit_and_poll.lua",
                 args=[keys])
    time.sleep(1.0)
    if db_url is not None:
        rows = asyncio.run(fetch(db_url, "SELECT extract(epoch FROM completed_at - created_at) AS s "
                                         "FROM jobs WHERE created_at > $1 AND status = 'completed'", since))
        latencies = [float(r["s"]) for r in rows]
    else:
        import sqlite3

        with sqlite3.connect(str(sqlite)) as conn:
            rows = conn.execute("SELECT created_at, completed_at FROM jobs WHERE status = 'completed'").fetchall()
        latencies = [(_sqlite_time(b) - _sqlite_time(a)).total_seconds() for a, b in rows]
    p50, p99 = quantiles_ms(latencies)
    note = f"{len(latencies)} jobs, 4 clients; 5xx={result.extra.get('5xx', 0)}"
    line(f"{ident}-p50", p50, None, "<=50ms", p50 <= 50, note)
    line(f"{ident}-p99", p99, None, "<=250ms", p99 <= 250, "ms created_at -> completed_at")


def _sqlite_time(text: str) -> datetime:
    return datetime.fromisoformat(text)


# --- embedded: E1, P8, P5, P7 ----------------------------------------------------------------------
def embedded(cfg: argparse.Namespace, procs: Procs, only: set[str]) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="hot_paths_home_"))
    try:
        if only & {"E1", "P6"}:
            home = scratch / "e1"
            port, base_port = free_port(), free_port()
            env = common_env(IMAGEGEN_HOME=str(home), IMAGEGEN_PORT=str(port))
            keys = keys_file(asyncio.run(make_keys(env, USERS)))
            api = procs.start("api_embedded_e1", [IMAGEGEN, "serve"], env)
            base = procs.start("base_nodb", baseline_server("app_nodb", base_port), env, BASELINE)
            url, base_url = f"http://127.0.0.1:{port}/v1/jobs", f"http://127.0.0.1:{base_port}/v1/jobs"
            wait_http(f"http://127.0.0.1:{port}/healthz", api)
            wait_http(base_url, base)
            for u in (url, base_url):
                wrk(u, connections=64, seconds=cfg.warmup, script="post_job.lua", args=[keys])
            rss = RssSampler(lambda: [api.pid])
            with rss, profiled(cfg, "E1-api", api.pid):
                ours = wrk(url, connections=64, seconds=cfg.seconds, script="post_job.lua", args=[keys])
            bare = wrk(base_url, connections=64, seconds=cfg.seconds, script="post_job.lua", args=[keys])
            fives = ours.extra.get("5xx", 0)
            line("E1", ours.rps, bare.rps, ">=0.25,0x5xx", ours.rps / bare.rps >= 0.25 and fives == 0,
                 f"req/s at 64 connections, in-process worker running; 5xx={fives} non2xx={ours.non2xx} "
                 f"{ours.errors}")
            peak = max(rss.peak.values() or [0]) / 1024
            line("P6-embedded", peak, None, "<=150MB", peak <= 150, "MB VmRSS peak of `serve` during E1")
            procs.stop(base)
            procs.stop(api)
        if "P8" in only:
            home = scratch / "p8"
            port = free_port()
            env = common_env(IMAGEGEN_HOME=str(home), IMAGEGEN_PORT=str(port))
            keys = keys_file(asyncio.run(make_keys(env, 4)))
            api = procs.start("api_embedded_p8", [IMAGEGEN, "serve"], env)
            wait_http(f"http://127.0.0.1:{port}/healthz", api)
            p8(cfg, "P8-emb", f"http://127.0.0.1:{port}", keys, None, home / "imagegen.db")
            procs.stop(api)
        if "P5" in only:
            p5(cfg, procs, scratch / "p5")
        if "P7" in only:
            p7(scratch)
    finally:
        procs.stop_all()
        shutil.rmtree(scratch, ignore_errors=True)


def p5(cfg: argparse.Namespace, procs: Procs, home: Path) -> None:
    up_port, port, base_port = free_port(), free_port(), free_port()
    upstream_url = f"http://127.0.0.1:{up_port}/v1"
    env = common_env(IMAGEGEN_HOME=str(home), IMAGEGEN_PORT=str(port), IMAGEGEN_OPENAI_API_KEY="sk-fake",
                     IMAGEGEN_OPENAI_BASE_URL=upstream_url, UPSTREAM_URL=upstream_url)
    upstream = procs.start("fake_openai", baseline_server("fake_openai", up_port), env, BASELINE)
    key = asyncio.run(make_keys(env, 1))[0]
    api = procs.start("api_embedded_p5", [IMAGEGEN, "serve"], env)
    base = procs.start("base_forward", baseline_server("app_forward", base_port), env, BASELINE)
    ours_url = f"http://127.0.0.1:{port}/v1/images/generations"
    base_url = f"http://127.0.0.1:{base_port}/v1/images/generations"
    wait_http(f"http://127.0.0.1:{up_port}/v1/images/generations", upstream)
    wait_http(f"http://127.0.0.1:{port}/healthz", api)
    wait_http(base_url, base)
    for u in (ours_url, base_url):
        wrk(u, connections=1, seconds=cfg.warmup, script="post_image.lua", args=[key])
    with profiled(cfg, "P5-api", api.pid):
        ours = wrk(ours_url, connections=1, seconds=cfg.seconds, script="post_image.lua", args=[key])
    bare = wrk(base_url, connections=1, seconds=cfg.seconds, script="post_image.lua", args=[key])
    line("P5", ours.rps, bare.rps, ">=0.5", ours.rps / bare.rps >= 0.5 and ours.extra.get("non200", 0) == 0,
         f"req/s at 1 connection (p50 {ours.p50_ms:.1f} vs {bare.p50_ms:.1f} ms); "
         f"non200={ours.extra.get('non200', 0)}")
    for proc in (base, api, upstream):
        procs.stop(proc)


def p7(scratch: Path) -> None:
    """`imagegen generate` on a new home, with the project's bytecode compiled (as at install)."""
    subprocess.run([PY, "-m", "compileall", "-q", "-j", "0", str(ROOT / "src")], check=False,
                   capture_output=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGEN_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    walls, cpus = [], []
    for attempt in range(4):
        home = scratch / f"p7_{attempt}"
        started = time.perf_counter()
        proc = subprocess.Popen([IMAGEGEN, "generate", "a lighthouse at dusk", "--out", str(home / "out")],
                                env={**env, "IMAGEGEN_HOME": str(home)}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - started)
        cpus.append(usage.ru_utime + usage.ru_stime)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError("imagegen generate failed")
        proc.returncode = 0
    median = statistics.median(walls[1:])  # the first run may still be writing bytecode
    line("P7", median, None, "<=1.0s", median <= 1.0,
         "s wall, median of 3 after one run; runs " + ", ".join(f"{w:.2f}" for w in walls)
         + "; CPU s " + ", ".join(f"{c:.2f}" for c in cpus))


# --- P4: the ledger audit --------------------------------------------------------------------------
def p4(cfg: argparse.Namespace) -> None:
    tag = uuid.uuid4().hex[:8]
    db = f"hot_paths_audit_{tag}"
    asyncio.run(admin(f'CREATE DATABASE "{db}"'))
    try:
        env = common_env(IMAGEGEN_PROFILE="production", DATABASE_URL=dsn(db), IMAGEGEN_S3_BUCKET="unused",
                         IMAGEGEN_S3_ENDPOINT_URL="http://127.0.0.1:9", IMAGEGEN_S3_REGION="us-east-1",
                         AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
                         IMAGEGEN_QUEUE_NAME=f"hot_paths_audit_{tag}")
        subprocess.run([IMAGEGEN, "migrate"], env=env, check=True, capture_output=True)
        started = time.perf_counter()
        count = asyncio.run(load_ledger(dsn(db), cfg.events))
        print(f"# P4: loaded {count} events in {time.perf_counter() - started:.1f} s", flush=True)
        ours_s, ours_kb = timed([IMAGEGEN, "ledger", "audit"], env)
        base_s, base_kb = timed([PY, str(BASELINE / "replay_asyncpg.py"), dsn(db)], env)
        spy = shutil.which("py-spy")
        if cfg.profile and spy:  # a separate, profiled audit (not timed)
            subprocess.run([spy, "record", "--rate", "200", "--format", "raw", "--output",
                            str(Path(cfg.profile) / "P4-audit.txt"), "--", IMAGEGEN, "ledger", "audit"],
                           env=env, check=False, capture_output=True)
        ours_rate, base_rate = count / ours_s, count / base_s
        line("P4", ours_rate, base_rate, ">=0.8", ours_rate / base_rate >= 0.8,
             f"events/s over {count} events, wall of the whole command ({ours_s:.2f} vs {base_s:.2f} s)")
        line("P4-rss", ours_kb / 1024, base_kb / 1024, "<=200MB", ours_kb / 1024 <= 200,
             "MB peak RSS (VmHWM) of `imagegen ledger audit` vs the baseline")
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KB, the last VmHWM seen; polled, because ru_maxrss of a
    child counts the RSS it inherited from this process at fork) of one command."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    peak = [0]

    def poll() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], status_kb(proc.pid, "VmHWM"))
            time.sleep(0.05)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    out, _ = proc.communicate()
    wall = time.perf_counter() - started
    watcher.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:3]} exited {proc.returncode}: {out[-2000:].decode(errors='replace')}")
    return wall, peak[0]


async def load_ledger(url: str, events: int) -> int:
    """Valid ledgers built by the domain (grant, then reserve/capture pairs), copied in with COPY."""
    from adapters.ledger_chain import KEYED_CHAIN, hmac_chain
    from adapters.persistence.sqlalchemy.ledger import _projection_row, _to_row
    from domain.credits import CreditLedger

    hasher = hmac_chain(LEDGER_KEY.encode())

    per_account = 100
    accounts = max(1, events // per_account)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    expires = now + timedelta(hours=1)
    conn = await asyncpg.connect(url)
    total = 0
    try:
        event_rows, balance_rows = [], []
        for a in range(accounts):
            ledger = CreditLedger(f"acct{a:06d}", hasher=hasher)
            ledger.grant(1_000_000, now=now, reason="bench")
            for j in range((per_account - 1) // 2):
                job = f"job{a:06d}{j:04d}"
                ledger.reserve(job, 2, expires_at=expires, now=now)
                ledger.capture(job, 1, now=now)
            pending = list(ledger.pending_events)
            event_rows.extend(_row_tuple(_to_row(e)) for e in pending)
            p = _projection_row(ledger.snapshot(), pending[-1])
            balance_rows.append((ledger.account_id, p["version"], p["last_hash"], p["available"],
                                 p["reserved"], p["lifetime_spent"], p["snapshot"], p["updated_at"],
                                 KEYED_CHAIN))
            if len(event_rows) >= 50_000 or a == accounts - 1:
                await conn.copy_records_to_table("ledger_events", records=event_rows, columns=EVENT_COLUMNS)
                total += len(event_rows)
                event_rows = []
        await conn.copy_records_to_table("balances", records=balance_rows, columns=BALANCE_COLUMNS)
        await conn.execute("ANALYZE ledger_events; ANALYZE balances; CHECKPOINT")
    finally:
        await conn.close()
    return total


EVENT_COLUMNS = ["account_id", "version", "type", "job_id", "amount", "occurred_at", "prev_hash",
                 "hash", "payload"]
BALANCE_COLUMNS = ["account_id", "version", "last_hash", "available", "reserved", "lifetime_spent",
                   "snapshot", "updated_at", "chain_kind"]


def _row_tuple(row: dict[str, object]) -> tuple[object, ...]:
    return tuple(row[c] for c in EVENT_COLUMNS)


# --- main ------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="6 s wrk runs, 200k audit events")
    parser.add_argument("--only", default="P1,P2,P3,P4,P5,P6,P7,P8,E1",
                        help="comma-separated figures to measure")
    parser.add_argument("--profile", default="", help="directory for py-spy profiles (py-spy on PATH)")
    cfg = parser.parse_args()
    if cfg.profile:
        Path(cfg.profile).mkdir(parents=True, exist_ok=True)
    cfg.seconds, cfg.warmup = (6.0, 2.0) if cfg.quick else (20.0, 3.0)
    cfg.events = 200_000 if cfg.quick else 1_000_000
    cfg.drain_timeout = 240
    only = {o.strip().upper() for o in cfg.only.split(",")}
    ensure_wrk()
    procs = Procs()
    began = time.perf_counter()
    print(f"# hot_paths {'--quick ' if cfg.quick else ''}{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; logs in {procs.logs}", flush=True)
    try:
        if only & {"P1", "P2", "P3", "P6", "P8"}:
            production(cfg, procs, only)
        if only & {"E1", "P5", "P6", "P7", "P8"}:
            embedded(cfg, procs, only)
        if "P4" in only:
            p4(cfg)
    finally:
        procs.stop_all()
    print(f"# done in {time.perf_counter() - began:.0f} s, load average {os.getloadavg()[0]:.1f}")
    print("\n".join(RESULTS))


if __name__ == "__main__":
    main()
