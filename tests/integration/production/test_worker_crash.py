"""Two real `imagegen worker`s; the one generating a job is SIGKILLed: the other finishes the
job exactly once (one capture, one image, one stored object) after the lease lapses."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from sqlalchemy import func, select

from adapters.persistence.sqlalchemy.tables import images, jobs, ledger_events
from application.commands import SubmitJob
from domain.jobs import JobStatus
from tests.integration.production.conftest import empty_tables
from tests.integration.production.helpers import production_container
from tests.integration.services import require_redis

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
IMAGEGEN = Path(sys.executable).with_name("imagegen")


@pytest.fixture(scope="module")
def s3_bucket() -> Iterator[tuple[str, str]]:
    """(endpoint, bucket) of a moto S3 server on loopback."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint, bucket = f"http://{host}:{port}", f"crash-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    try:
        yield endpoint, bucket
    finally:
        server.stop()


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(IMAGEGEN), "worker", "--processes", "1", "--threads", "2"],
                            env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # the whole group: dramatiq's forked children too
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


async def wait_until(check, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := await check():
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


async def _ready(log: Path, count: int) -> bool:
    return log.exists() and log.read_text().count('"worker.started"') >= count


async def test_a_job_whose_worker_was_killed_completes_once_on_another_worker(
    migrated_postgres: str, s3_bucket: tuple[str, str], tmp_path: Path
) -> None:
    base = require_redis().rsplit("/", 1)[0]
    redis_url = f"{base}/{random.randint(1, 15)}"
    endpoint, bucket = s3_bucket
    env = {**os.environ, "IMAGEGEN_PROFILE": "production", "DATABASE_URL": migrated_postgres,
           "REDIS_URL": redis_url, "IMAGEGEN_QUEUE_NAME": f"crash-{uuid.uuid4().hex[:8]}",
           "IMAGEGEN_LOCAL_LATENCY_S": "3", "IMAGEGEN_LEASE_S": "4",
           "IMAGEGEN_REAPER_INTERVAL_S": "0.5", "IMAGEGEN_RELAY_INTERVAL_S": "0.5",
           "IMAGEGEN_HOME": str(tmp_path), "IMAGEGEN_S3_BUCKET": bucket,
           "IMAGEGEN_S3_ENDPOINT_URL": endpoint, "IMAGEGEN_S3_REGION": REGION,
           "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "IMAGEGEN_LOG_LEVEL": "info", "IMAGEGEN_LEDGER_KEY": "k" * 32}
    api = production_container(migrated_postgres, tmp_path, redis_url=redis_url,
                               queue_name=env["IMAGEGEN_QUEUE_NAME"])
    engine = api.adapters.engine()
    await empty_tables(engine)
    log = tmp_path / "workers.log"
    workers = [start_worker(env, log), start_worker(env, log)]
    try:
        await wait_until(lambda: _ready(log, 2), 60, "two worker processes to boot")
        await api.use_cases.ensure_user()("user_crash", starter_credits=10)
        job_id = (await api.use_cases.submit_job()(SubmitJob(
            user_id="user_crash", prompt="survive", model="local", size="64x64", n=1))).job.id

        async def row():  # type: ignore[no-untyped-def]
            async with engine.connect() as conn:
                return (await conn.execute(select(jobs.c.status, jobs.c.worker_id)
                                           .where(jobs.c.id == job_id))).one()

        async def generating_on() -> str | None:
            status, worker_id = await row()
            return worker_id if status == JobStatus.GENERATING.value else None

        worker_id = await wait_until(generating_on, 20, "a worker to start generating")
        child = int(worker_id.rsplit("-", 1)[1])
        victim = next(w for w in workers if w.pid == os.getpgid(child))
        stop(victim, signal.SIGKILL)
        killed_at = time.monotonic()

        async def finished() -> bool:
            return (await row())[0] in (JobStatus.COMPLETED.value, JobStatus.FAILED.value)

        await wait_until(finished, 45, "the surviving worker to finish the job")
        recovery_s = time.monotonic() - killed_at
        view = await api.use_cases.get_job()("user_crash", job_id)
        async with engine.connect() as conn:
            captures = (await conn.execute(select(func.count()).select_from(ledger_events).where(
                ledger_events.c.job_id == job_id, ledger_events.c.type == "reservation_captured"))).scalar_one()
            image_rows = (await conn.execute(select(func.count()).select_from(images).where(
                images.c.job_id == job_id))).scalar_one()
        objects = boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                               aws_access_key_id="testing", aws_secret_access_key="testing"
                               ).list_objects_v2(Bucket=bucket).get("KeyCount", 0)
    finally:
        for worker in workers:
            stop(worker, signal.SIGKILL)  # graceful shutdown is not what this test is about
        await api.close()
    print(f"\nrecovery after SIGKILL: {recovery_s:.1f} s (lease 4 s, retry delay 2 s, generation 3 s)")
    assert view.job.status is JobStatus.COMPLETED, log.read_text()[-3000:]
    assert view.job.attempts == 2
    assert (captures, image_rows, objects) == (1, 1, 1)
    assert view.job.charged_credits == 1
