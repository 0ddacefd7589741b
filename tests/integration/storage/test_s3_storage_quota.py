"""Storage quotas with S3 storage and a SQL database: usage counted with the image, excess refunded.

A worker's ProcessGeneration runs on S3 (moto over HTTP) and SQLAlchemy, on Postgres (skips
locally when it is down) and on SQLite. Over quota, a job fails with `storage_quota`, its
credits are released and the bucket keeps nothing, also when another upload takes the room
between the pre-upload check and the final commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.clock import FakeClock
from adapters.events.in_process import InProcessJobEvents
from adapters.ids import UlidIdGenerator
from adapters.image_providers.local import LocalImageProvider
from adapters.image_providers.registry import StaticProviderRegistry
from adapters.images.inspector import PillowImageInspector
from adapters.persistence.sqlalchemy import (
    SqlAlchemyUnitOfWorkFactory,
    create_engine,
    create_schema,
)
from adapters.persistence.sqlalchemy.tables import metadata
from adapters.storage.s3 import S3ObjectStorage
from application.commands import SubmitJob
from application.use_cases.credits import GetBalance, GrantCredits
from application.use_cases.process_generation import ProcessGeneration
from application.use_cases.settle_failure import FailOrRetry
from application.use_cases.submit_generation import SubmitGeneration
from domain.catalog import ModelCatalog
from domain.failures import RefundPolicy
from domain.jobs import JobState, JobStatus
from domain.pricing import ModelSpec
from domain.retry import RetryPolicy
from tests.integration.services import PostgresDatabase
from tests.integration.storage.conftest import bucket_keys

pytestmark = pytest.mark.integration

MODELS = [ModelSpec(name="local", provider="local", credits_per_image=1, max_n=4)]


class NoQueue:
    async def enqueue(self, job_id: str, *, delay_s: float = 0.0) -> None:
        pass


class Worker:
    """The use cases a worker and the API need, on S3 and the SQL backend under test."""

    def __init__(self, uow: SqlAlchemyUnitOfWorkFactory, storage: Any) -> None:
        self.uow, self.clock, events = uow, FakeClock(), InProcessJobEvents()
        registry = StaticProviderRegistry({"local": LocalImageProvider(clock=self.clock)})
        self.submit = SubmitGeneration(uow=uow, catalog=ModelCatalog(MODELS), providers=registry,
                                       queue=NoQueue(), clock=self.clock, ids=UlidIdGenerator(),
                                       publisher=events)
        fail_or_retry = FailOrRetry(uow=uow, queue=NoQueue(), clock=self.clock, publisher=events,
                                    retry_policy=RetryPolicy(), refund_policy=RefundPolicy())
        self.process = ProcessGeneration(uow=uow, providers=registry, inspector=PillowImageInspector(),
                                         storage=storage, clock=self.clock, publisher=events,
                                         fail_or_retry=fail_or_retry, worker_id="w1")
        self.grant = GrantCredits(uow=uow, clock=self.clock)
        self.balance = GetBalance(uow=uow)

    async def run_job(self, n: int = 1) -> JobState:
        await self.grant("u1", 10)
        job_id = (await self.submit(SubmitJob(user_id="u1", prompt="a lighthouse", model="local",
                                              size="64x48", n=n))).job.id
        state = await self.process(job_id)
        assert state is not None
        return state

    async def fill_quota_to(self, room_left: int) -> None:
        async with self.uow() as uow:
            quota = await uow.quotas.get("u1")
            await uow.quotas.add_usage("u1", quota.remaining_bytes - room_left)
            await uow.commit()

    async def used_bytes(self) -> int:
        async with self.uow() as uow:
            return (await uow.quotas.get("u1")).used_bytes


@pytest.fixture(scope="module")
def postgres_url(postgres_database: PostgresDatabase) -> str:
    async def create() -> None:
        engine = create_engine(postgres_database.sqlalchemy_url)
        await create_schema(engine, migrations=False)  # schema, not migrations, is tested here
        await engine.dispose()

    asyncio.run(create())
    return postgres_database.sqlalchemy_url


@pytest.fixture(params=["postgres", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The SQL backend under test (resolved outside the event loop: the Postgres probe runs one)."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite+aiosqlite:///{tmp_path / 'quota.db'}"


@pytest.fixture
async def uow_factory(database_url: str) -> AsyncIterator[SqlAlchemyUnitOfWorkFactory]:
    engine = create_engine(database_url)
    await create_schema(engine, migrations=False)  # schema, not migrations, is tested here
    async with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(table.delete())
    yield SqlAlchemyUnitOfWorkFactory(engine)
    await engine.dispose()


async def test_a_stored_image_is_encrypted_and_its_bytes_are_counted_with_it(
        uow_factory: SqlAlchemyUnitOfWorkFactory, s3_storage: S3ObjectStorage,
        s3_client: Any, bucket: str) -> None:
    worker = Worker(uow_factory, s3_storage)
    job = await worker.run_job(n=2)
    assert job.status is JobStatus.COMPLETED
    keys = bucket_keys(s3_client, bucket)
    assert keys == [f"users/u1/jobs/{job.id}/a1/{i}.png" for i in range(2)]  # keys carry the attempt
    heads = [s3_client.head_object(Bucket=bucket, Key=k) for k in keys]
    assert {(h["ServerSideEncryption"], h["ContentType"]) for h in heads} == {("AES256", "image/png")}
    assert await worker.used_bytes() == sum(h["ContentLength"] for h in heads)
    balance = await worker.balance("u1")
    assert (balance.available, balance.reserved, balance.lifetime_spent) == (8, 0, 2)


async def test_over_quota_fails_with_storage_quota_before_uploading_and_refunds(
        uow_factory: SqlAlchemyUnitOfWorkFactory, s3_storage: S3ObjectStorage,
        s3_client: Any, bucket: str) -> None:
    worker = Worker(uow_factory, s3_storage)
    await worker.fill_quota_to(room_left=10)
    used = await worker.used_bytes()
    job = await worker.run_job()
    assert (job.status, job.error_class, job.failure_stage.value if job.failure_stage else None) == (
        JobStatus.FAILED, "storage_quota", "uploading")
    assert bucket_keys(s3_client, bucket) == []
    assert await worker.used_bytes() == used
    balance = await worker.balance("u1")
    assert (balance.available, balance.reserved, balance.lifetime_spent) == (10, 0, 0)


class RoomTakingStorage:
    """S3 storage where, after our upload, another job's upload takes all the remaining room."""

    def __init__(self, inner: S3ObjectStorage, worker_uow: SqlAlchemyUnitOfWorkFactory) -> None:
        self.inner, self.uow = inner, worker_uow

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await self.inner.put(key, data, content_type)
        async with self.uow() as uow:
            await uow.quotas.add_usage("u1", (await uow.quotas.get("u1")).remaining_bytes)
            await uow.commit()

    async def get(self, key: str) -> bytes:
        return await self.inner.get(key)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)

    def url_for(self, key: str, *, expires_in_s: int) -> str:
        return self.inner.url_for(key, expires_in_s=expires_in_s)


async def test_room_taken_during_the_upload_fails_the_job_and_deletes_what_it_uploaded(
        uow_factory: SqlAlchemyUnitOfWorkFactory, s3_storage: S3ObjectStorage,
        s3_client: Any, bucket: str) -> None:
    worker = Worker(uow_factory, RoomTakingStorage(s3_storage, uow_factory))
    job = await worker.run_job()
    assert (job.status, job.error_class) == (JobStatus.FAILED, "storage_quota")
    assert bucket_keys(s3_client, bucket) == []
    async with uow_factory() as uow:
        assert await uow.images.for_job(job.id) == []
    balance = await worker.balance("u1")
    assert (balance.available, balance.reserved, balance.lifetime_spent) == (10, 0, 0)
