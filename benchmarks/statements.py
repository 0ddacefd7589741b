"""Count the SQL a production submit and a worker's job cost, from Postgres's own statement log.

Usage: uv run python benchmarks/statements.py [--jobs 5] [--log /var/log/postgresql/postgresql-15-main.log]

Creates a throw-away database with `ALTER DATABASE ... SET log_statement = 'all'` (that database
only), starts `imagegen serve` (production, periodic loops off so only the request path and the
worker speak), submits --jobs jobs one at a time, then starts one worker process and lets it
finish them. Reads the server log lines tagged `@<database>` and prints, per submit and per job,
the transactions (BEGIN), the statements, and each statement's shape. Needs to read the
Postgres log file (root, or the postgres/adm group).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from hot_paths import (  # noqa: E402
    IMAGEGEN, REDIS, Procs, admin, common_env, dsn, fetch, free_port, make_keys, redis_cleanup, wait_for,
    wait_http,
)

_LINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] \S+@(\S+) LOG:  (?:statement|execute [^:]*): (.*)$")


_OURS = "SELECT count(*) AS n FROM jobs WHERE status"  # this script's own polling


def read_log(path: Path, offset: int, database: str) -> list[tuple[str, str]]:
    """(backend pid, statement) for every statement logged for `database` after `offset`."""
    found = []
    with path.open(errors="replace") as fh:
        fh.seek(offset)
        for raw in fh:
            match = _LINE.match(raw.rstrip("\n"))
            if match and match.group(2) == database and not match.group(3).startswith(_OURS):
                found.append((match.group(1), match.group(3)))
    return found


def shape(statement: str) -> str:
    text = re.sub(r"\s+", " ", statement).strip()
    text = re.sub(r"\$\d+(::\w+)?", "?", text)
    return text[:110]


def report(title: str, rows: list[tuple[str, str]], units: int) -> None:
    statements = [s for _, s in rows]
    begins = sum(1 for s in statements if s.upper().startswith("BEGIN"))
    commits = sum(1 for s in statements if s.upper().startswith("COMMIT"))
    rollbacks = sum(1 for s in statements if s.upper().startswith("ROLLBACK"))
    other = [s for s in statements if not re.match(r"(?i)(BEGIN|COMMIT|ROLLBACK)", s)]
    print(f"\n## {title}: {units} units")
    print(f"per unit: {begins / units:.1f} transactions (BEGIN), {commits / units:.1f} COMMIT, "
          f"{rollbacks / units:.1f} ROLLBACK, {len(other) / units:.1f} other statements, "
          f"{len(statements) / units:.1f} round trips in all")
    for text, count in Counter(shape(s) for s in statements).most_common():
        print(f"  {count / units:5.1f} x  {text}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--log", default="/var/log/postgresql/postgresql-15-main.log")
    args = parser.parse_args()
    log = Path(args.log)
    tag = uuid.uuid4().hex[:8]
    database, queue = f"hot_paths_stmts_{tag}", f"hot_paths_stmts_{tag}"
    asyncio.run(admin(f'CREATE DATABASE "{database}"'))
    procs = Procs()
    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    moto.start()
    try:
        import boto3

        host, mport = moto.get_host_and_port()
        endpoint = f"http://{host}:{mport}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x",
                     aws_secret_access_key="x").create_bucket(Bucket="bench")
        port = free_port()
        env = common_env(
            IMAGEGEN_PROFILE="production", DATABASE_URL=dsn(database), REDIS_URL=REDIS,
            IMAGEGEN_QUEUE_NAME=queue, IMAGEGEN_S3_BUCKET="bench", IMAGEGEN_S3_ENDPOINT_URL=endpoint,
            IMAGEGEN_S3_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
            IMAGEGEN_PORT=str(port), IMAGEGEN_REAPER_INTERVAL_S="3600", IMAGEGEN_RELAY_INTERVAL_S="3600",
            IMAGEGEN_RECONCILE_INTERVAL_S="3600", IMAGEGEN_WEBHOOK_DELIVERY_INTERVAL_S="3600")
        subprocess.run([IMAGEGEN, "migrate"], env=env, check=True, capture_output=True)
        key = asyncio.run(make_keys(env, 1))[0]
        asyncio.run(admin(f"ALTER DATABASE \"{database}\" SET log_statement = 'all'"))
        api = procs.start("stmts_api", [IMAGEGEN, "serve"], env)
        wait_http(f"http://127.0.0.1:{port}/healthz", api)
        body = json.dumps({"prompt": "a lighthouse at dusk", "model": "local", "size": "64x64"}).encode()
        # one submit first, unmeasured: connection set-up and first-use queries
        submit = urllib.request.Request(f"http://127.0.0.1:{port}/v1/jobs", data=body, method="POST",
                                        headers={"Authorization": f"Bearer {key}",
                                                 "Content-Type": "application/json"})
        urllib.request.urlopen(submit).read()
        time.sleep(1.0)
        offset = log.stat().st_size
        for _ in range(args.jobs):
            urllib.request.urlopen(submit).read()
        time.sleep(1.5)
        submits = read_log(log, offset, database)
        report("POST /v1/jobs (API process)", submits, args.jobs)
        offset = log.stat().st_size
        worker = procs.start("stmts_worker", [IMAGEGEN, "worker", "--processes", "1", "--threads", "1"], env)
        wait_for(lambda: asyncio.run(fetch(dsn(database), "SELECT count(*) AS n FROM jobs WHERE status "
                                                          "= 'completed'"))[0]["n"] >= args.jobs + 1,
                 120, "the jobs to complete")
        time.sleep(1.5)
        procs.stop(worker)
        jobs = read_log(log, offset, database)
        report("one job in the worker (local 64x64, S3) incl. the worker's start-up", jobs, args.jobs + 1)
    finally:
        procs.stop_all()
        moto.stop()
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        redis_cleanup(queue)


if __name__ == "__main__":
    main()
