"""The `JobRepository` contract: round trips, compare-and-set saves, paging and the queue."""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone

import pytest

from application.errors import ConcurrencyConflict
from domain.errors import InvalidRequest
from domain.failures import ErrorClass
from domain.jobs import Job, JobStatus
from tests.contracts import PersistenceContract, at, job_with_every_field, queued_job

_PLUS_TWO = timezone(timedelta(hours=2))


class JobRepositoryContract(PersistenceContract):
    async def test_a_job_comes_back_with_every_field_it_was_added_with(self) -> None:
        state = job_with_every_field("job_full")
        async with self.make_uow() as uow:
            await uow.jobs.add(Job(state))
            await uow.commit()
        async with self.make_uow() as uow:
            loaded = await uow.jobs.get("job_full")
        assert loaded is not None
        assert loaded.state == state
        assert loaded.state.created_at.utcoffset() == timedelta(0)
        assert loaded.state.lease_expires_at is not None
        assert loaded.state.lease_expires_at.tzinfo is not None

    async def test_an_unknown_job_is_none(self) -> None:
        async with self.make_uow() as uow:
            assert await uow.jobs.get("job_missing") is None

    async def test_adding_a_job_twice_is_a_conflict(self) -> None:
        async with self.make_uow() as uow:
            await uow.jobs.add(queued_job("job_1"))
            await uow.commit()
        async with self.make_uow() as uow:
            with pytest.raises(ConcurrencyConflict):
                await uow.jobs.add(queued_job("job_1"))

    async def test_saving_moves_the_revision_up_and_stores_the_new_state(self) -> None:
        async with self.make_uow() as uow:
            await uow.jobs.add(queued_job("job_1"))
            await uow.commit()
        async with self.make_uow() as uow:
            job = await uow.jobs.get("job_1")
            assert job is not None and job.state.revision == 0
            job.start(now=at(1), worker_id="w1", lease_expires_at=at(61))
            await uow.jobs.save(job)
            job.begin_generation(now=at(2))
            await uow.jobs.save(job)
            await uow.commit()
        assert job.state.revision == 2
        async with self.make_uow() as uow:
            stored = await uow.jobs.get("job_1")
        assert stored is not None
        assert stored.state == job.state

    async def test_saving_a_stale_job_is_a_conflict_and_changes_nothing(self) -> None:
        async with self.make_uow() as uow:
            await uow.jobs.add(queued_job("job_1"))
            await uow.commit()
        async with self.make_uow() as first, self.make_uow() as second:
            mine = await first.jobs.get("job_1")
            theirs = await second.jobs.get("job_1")
            assert mine is not None and theirs is not None
            mine.cancel(now=at(1))
            await first.jobs.save(mine)
            await first.commit()
            theirs.start(now=at(2), worker_id="w1", lease_expires_at=at(62))
            with pytest.raises(ConcurrencyConflict):
                await second.jobs.save(theirs)
        async with self.make_uow() as uow:
            stored = await uow.jobs.get("job_1")
        assert stored is not None
        assert stored.status is JobStatus.CANCELLED
        assert stored.state.revision == 1

    async def test_of_two_units_saving_one_job_at_once_exactly_one_wins(self) -> None:
        async with self.make_uow() as uow:
            await uow.jobs.add(queued_job("job_1"))
            await uow.commit()
        both_loaded = asyncio.Barrier(2)

        async def take(worker_id: str) -> str | None:
            try:
                async with self.make_uow() as uow:
                    job = await uow.jobs.get("job_1")
                    assert job is not None
                    await both_loaded.wait()
                    job.start(now=at(1), worker_id=worker_id, lease_expires_at=at(60))
                    await uow.jobs.save(job)
                    await asyncio.sleep(0.05)  # hold the write open while the other tries
                    await uow.commit()
                    return worker_id
            except ConcurrencyConflict:
                return None

        winners = [w for w in await asyncio.gather(take("w1"), take("w2")) if w]
        async with self.make_uow() as uow:
            stored = await uow.jobs.get("job_1")
        assert len(winners) == 1
        assert stored is not None and stored.state.worker_id == winners[0]
        assert stored.state.revision == 1

    async def test_saving_a_job_that_was_never_added_is_a_conflict(self) -> None:
        async with self.make_uow() as uow:
            with pytest.raises(ConcurrencyConflict):
                await uow.jobs.save(queued_job("job_ghost"))

    async def test_a_unit_sees_its_own_uncommitted_writes(self) -> None:
        async with self.make_uow() as uow:
            await uow.jobs.add(queued_job("job_1"))
            assert await uow.jobs.get("job_1") is not None
            page = await uow.jobs.list_for_user("user_1", status=None, limit=10, cursor=None)
            assert [s.id for s in page.items] == ["job_1"]

    async def test_jobs_page_newest_first_across_three_pages_with_a_status_filter(self) -> None:
        async with self.make_uow() as uow:
            for i in range(7):
                job = queued_job(f"job_{i}", created_at=at(i))
                if i % 3 == 2:
                    job.cancel(now=at(i + 0.5))
                await uow.jobs.add(job)
            await uow.jobs.add(queued_job("job_other", user_id="user_2", created_at=at(3)))
            await uow.commit()
        pages, cursor = [], None
        async with self.make_uow() as uow:
            while True:
                page = await uow.jobs.list_for_user(
                    "user_1", status=JobStatus.QUEUED, limit=2, cursor=cursor)
                pages.append([s.id for s in page.items])
                cursor = page.next_cursor
                if cursor is None:
                    break
            cancelled = await uow.jobs.list_for_user(
                "user_1", status=JobStatus.CANCELLED, limit=10, cursor=None)
        assert pages == [["job_6", "job_4"], ["job_3", "job_1"], ["job_0"]]
        assert [s.id for s in cancelled.items] == ["job_5", "job_2"]
        assert cancelled.next_cursor is None

    async def test_jobs_created_at_the_same_instant_page_by_id(self) -> None:
        async with self.make_uow() as uow:
            for name in ("job_a", "job_b", "job_c"):
                await uow.jobs.add(queued_job(name, created_at=at(0)))
            await uow.commit()
        async with self.make_uow() as uow:
            first = await uow.jobs.list_for_user("user_1", status=None, limit=2, cursor=None)
            second = await uow.jobs.list_for_user(
                "user_1", status=None, limit=2, cursor=first.next_cursor)
        assert [s.id for s in first.items] == ["job_c", "job_b"]
        assert [s.id for s in second.items] == ["job_a"]
        assert second.next_cursor is None

    async def test_a_full_last_page_has_no_next_cursor(self) -> None:
        async with self.make_uow() as uow:
            for i in range(2):
                await uow.jobs.add(queued_job(f"job_{i}", created_at=at(i)))
            await uow.commit()
        async with self.make_uow() as uow:
            page = await uow.jobs.list_for_user("user_1", status=None, limit=2, cursor=None)
        assert len(page.items) == 2
        assert page.next_cursor is None

    async def test_a_cursor_the_service_never_issued_is_an_invalid_request(self) -> None:
        async with self.make_uow() as uow:
            with pytest.raises(InvalidRequest):
                await uow.jobs.list_for_user("user_1", status=None, limit=2, cursor="%%not-ours")

    async def test_queue_position_counts_queued_jobs_submitted_earlier(self) -> None:
        running = queued_job("job_run", created_at=at(-10))
        running.start(now=at(0), worker_id="w1", lease_expires_at=at(60))
        jobs = [queued_job("job_b", created_at=at(1)), queued_job("job_a", created_at=at(1)),
                queued_job("job_c", created_at=at(2), user_id="user_2"), running]
        async with self.make_uow() as uow:
            for job in jobs:
                await uow.jobs.add(job)
            await uow.commit()
        async with self.make_uow() as uow:
            positions = {job.id: await uow.jobs.queue_position(job.state) for job in jobs}
        assert positions == {"job_a": 1, "job_b": 2, "job_c": 3, "job_run": 0}

    async def test_due_jobs_are_queued_ones_whose_time_came_and_lapsed_leases(self) -> None:
        now = at(100)
        fresh = queued_job("job_fresh", created_at=at(3))
        retry_due = queued_job("job_retry_due", created_at=at(1))
        retry_later = queued_job("job_retry_later", created_at=at(2))
        lapsed = queued_job("job_lapsed", created_at=at(0))
        leased = queued_job("job_leased", created_at=at(4))
        done = queued_job("job_done", created_at=at(5))
        for job in (retry_due, retry_later, lapsed, leased):
            job.start(now=at(10), worker_id="w1", lease_expires_at=at(50))
        retry_due.requeue(now=at(20), next_attempt_at=now, error_class=ErrorClass.TIMEOUT)
        retry_later.requeue(now=at(20), next_attempt_at=at(101))
        leased.renew_lease(attempt=leased.attempt, lease_expires_at=at(200))
        done.cancel(now=at(6))
        async with self.make_uow() as uow:
            for job in (fresh, retry_due, retry_later, lapsed, leased, done):
                await uow.jobs.add(job)
            await uow.commit()
        async with self.make_uow() as uow:
            due = await uow.jobs.due_for_dispatch(now, limit=10)
            first_two = await uow.jobs.due_for_dispatch(now, limit=2)
            due_elsewhere = await uow.jobs.due_for_dispatch(now.astimezone(_PLUS_TWO), limit=10)
        assert due == ["job_lapsed", "job_retry_due", "job_fresh"]
        assert first_two == ["job_lapsed", "job_retry_due"]
        assert due_elsewhere == due

    async def test_collected_events_are_the_committed_jobs_pending_events(self) -> None:
        job = queued_job("job_1")
        async with self.make_uow() as uow:
            await uow.jobs.add(job)
            assert uow.collect_new_events() == []
            await uow.commit()
            events = uow.collect_new_events()
            assert uow.collect_new_events() == []
        assert [(e.job_id, e.status) for e in events] == [("job_1", JobStatus.QUEUED)]
        assert job.pending_events == []

    async def test_a_rolled_back_unit_keeps_the_events_on_the_job(self) -> None:
        job = queued_job("job_1")
        async with self.make_uow() as uow:
            await uow.jobs.add(job)
        assert uow.collect_new_events() == []
        assert len(job.pending_events) == 1

    async def test_recent_processing_times_are_the_newest_completed_jobs_of_the_model(self) -> None:
        def finished(job_id: str, model: str, start: float, took: float, *, complete: bool = True) -> Job:
            job = queued_job(job_id, model=model, created_at=at(start - 1))
            job.start(now=at(start), worker_id="w1", lease_expires_at=at(start + 600))
            job.begin_generation(now=at(start + 0.1))
            if complete:
                job.begin_upload(now=at(start + took - 0.1), provider_cost_micros=0)
                job.complete(now=at(start + took), image_ids=("img_1",), charged_credits=1)
            else:
                job.cancel(now=at(start + took))
            return job

        jobs = [finished("job_old", "sdxl", 10, 2.0), finished("job_mid", "sdxl", 20, 4.5),
                finished("job_new", "sdxl", 30, 3.0), finished("job_other", "flux", 40, 9.0),
                finished("job_cancelled", "sdxl", 50, 1.0, complete=False),
                queued_job("job_waiting", model="sdxl")]
        async with self.make_uow() as uow:
            for job in jobs:
                await uow.jobs.add(job)
            await uow.commit()
        async with self.make_uow() as uow:
            two = await uow.jobs.recent_processing_seconds("sdxl", 2)
            every = await uow.jobs.recent_processing_seconds("sdxl", 10)
            none = await uow.jobs.recent_processing_seconds("dall-e-3", 10)
        assert two == pytest.approx([3.0, 4.5])
        assert every == pytest.approx([3.0, 4.5, 2.0])
        assert none == []
