"""The provider-webhook contracts: the delivery log, and finding jobs by their provider job id."""

from __future__ import annotations

import pytest

from application.errors import ConcurrencyConflict
from application.ports import ProviderDelivery
from domain.jobs import Job
from tests.contracts import PersistenceContract, at, queued_job


def delivery(
    delivery_id: str = "msg_1", provider: str = "replicate", provider_job_id: str = "pred_1"
) -> ProviderDelivery:
    return ProviderDelivery(
        provider=provider, delivery_id=delivery_id, provider_job_id=provider_job_id, finished=True
    )


def parked_job(
    job_id: str, provider_job_id: str, *, provider: str = "replicate", when: float = 0
) -> Job:
    job = queued_job(job_id, provider=provider, created_at=at(when))
    job.start(now=at(when + 1), worker_id="w1", lease_expires_at=at(when + 60))
    job.begin_generation(now=at(when + 1))
    job.await_callback(now=at(when + 2), provider_job_id=provider_job_id)
    return job


class ProviderDeliveryLogContract(PersistenceContract):
    async def test_a_recorded_delivery_is_seen_after_commit(self) -> None:
        async with self.make_uow() as uow:
            assert not await uow.provider_deliveries.seen("replicate", "msg_1")
            await uow.provider_deliveries.record(delivery(), job_id="job_1", received_at=at(0))
            await uow.commit()
        async with self.make_uow() as uow:
            assert await uow.provider_deliveries.seen("replicate", "msg_1")
            assert not await uow.provider_deliveries.seen("fal", "msg_1")

    async def test_an_uncommitted_record_is_forgotten(self) -> None:
        async with self.make_uow() as uow:
            await uow.provider_deliveries.record(delivery(), job_id=None, received_at=at(0))
        async with self.make_uow() as uow:
            assert not await uow.provider_deliveries.seen("replicate", "msg_1")

    async def test_recording_a_delivery_twice_is_a_conflict(self) -> None:
        async with self.make_uow() as uow:
            await uow.provider_deliveries.record(delivery(), job_id=None, received_at=at(0))
            await uow.commit()
        async with self.make_uow() as uow:
            with pytest.raises(ConcurrencyConflict):
                await uow.provider_deliveries.record(delivery(), job_id=None, received_at=at(1))
                await uow.commit()

    async def test_pruning_forgets_only_deliveries_received_before_the_cutoff(self) -> None:
        async with self.make_uow() as uow:
            await uow.provider_deliveries.record(delivery("old"), job_id=None, received_at=at(0))
            await uow.provider_deliveries.record(delivery("new"), job_id=None, received_at=at(100))
            await uow.commit()
        async with self.make_uow() as uow:
            assert await uow.provider_deliveries.prune(at(50)) == 1
            await uow.commit()
        async with self.make_uow() as uow:
            assert not await uow.provider_deliveries.seen("replicate", "old")
            assert await uow.provider_deliveries.seen("replicate", "new")


class JobsByProviderIdContract(PersistenceContract):
    async def test_a_parked_job_is_found_by_its_provider_and_provider_job_id(self) -> None:
        async with self.make_uow() as uow:
            await uow.jobs.add(parked_job("job_1", "pred_1"))
            await uow.jobs.add(parked_job("job_2", "pred_2"))
            await uow.commit()
        async with self.make_uow() as uow:
            found = await uow.jobs.by_provider_job_id("replicate", "pred_2")
            other_vendor = await uow.jobs.by_provider_job_id("fal", "pred_2")
            missing = await uow.jobs.by_provider_job_id("replicate", "pred_9")
        assert found is not None and found.id == "job_2"
        assert other_vendor is None and missing is None

    async def test_jobs_awaiting_a_callback_since_before_the_cutoff_are_listed_oldest_first(
        self,
    ) -> None:
        async with self.make_uow() as uow:
            await uow.jobs.add(parked_job("job_late", "p3", when=200))
            await uow.jobs.add(parked_job("job_b", "p2", when=20))
            await uow.jobs.add(parked_job("job_a", "p1", when=10))
            await uow.jobs.add(queued_job("job_queued", created_at=at(0)))
            await uow.commit()
        async with self.make_uow() as uow:
            stale = await uow.jobs.awaiting_callback_since(at(100), 10)
            first = await uow.jobs.awaiting_callback_since(at(100), 1)
        assert stale == ["job_a", "job_b"]
        assert first == ["job_a"]
