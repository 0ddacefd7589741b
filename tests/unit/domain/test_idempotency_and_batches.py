"""Idempotency fingerprints and keys, the memory idempotency store, and batch summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.memory.idempotency import InMemoryIdempotencyStore
from domain.batches import BatchStatus, summarize
from domain.idempotency import KEY_TTL, IdempotencyRecord, StoredResponse, check_key, fingerprint
from domain.jobs import JobState, JobStatus

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_fingerprint_changes_with_method_path_or_body_and_only_with_them() -> None:
    base = fingerprint("POST", "/v1/jobs", b'{"prompt":"a"}')
    assert base == fingerprint("post", "/v1/jobs", b'{"prompt":"a"}')
    assert base != fingerprint("PUT", "/v1/jobs", b'{"prompt":"a"}')
    assert base != fingerprint("POST", "/v1/batches", b'{"prompt":"a"}')
    assert base != fingerprint("POST", "/v1/jobs", b'{"prompt":"b"}')


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20), st.binary(max_size=20), st.text(max_size=20), st.binary(max_size=20))
def test_moving_bytes_between_path_and_body_changes_the_fingerprint(p1: str, b1: bytes, p2: str,
                                                                     b2: bytes) -> None:
    if (p1, b1) != (p2, b2):
        assert fingerprint("POST", p1, b1) != fingerprint("POST", p2, b2)


@pytest.mark.parametrize("key, ok", [("abc-123", True), ("", False), ("   ", False),
                                     ("x" * 255, True), ("x" * 256, False), ("k\u00e9y", False),
                                     ("a\nb", False)])
def test_keys_are_1_to_255_printable_ascii_characters(key: str, ok: bool) -> None:
    assert (check_key(key) is None) is ok


def _record(fp: str = "f", at: datetime = T0) -> IdempotencyRecord:
    return IdempotencyRecord(api_key_id="key_1", key="k", fingerprint=fp, created_at=at)


async def test_the_first_begin_wins_and_later_ones_see_its_record_until_it_expires() -> None:
    store = InMemoryIdempotencyStore()
    assert await store.begin(_record(), T0) is None
    seen = await store.begin(_record("g"), T0 + timedelta(seconds=1))
    assert seen is not None and seen.in_progress and seen.fingerprint == "f"
    await store.complete("key_1", "k", StoredResponse(status_code=201, body=b"{}"))
    seen = await store.begin(_record(), T0 + timedelta(hours=1))
    assert seen is not None and seen.response == StoredResponse(status_code=201, body=b"{}")
    later = T0 + KEY_TTL
    assert await store.begin(_record("new", later), later) is None  # pruned: a new request


async def test_releasing_forgets_an_in_progress_key_but_never_a_completed_one() -> None:
    store = InMemoryIdempotencyStore()
    await store.begin(_record(), T0)
    await store.release("key_1", "k")
    assert await store.begin(_record(), T0) is None
    await store.complete("key_1", "k", StoredResponse(status_code=400, body=b"x"))
    await store.release("key_1", "k")
    assert (await store.begin(_record(), T0)) is not None


def _job(status: JobStatus, progress: int = 0) -> JobState:
    return JobState(id="j", user_id="u", prompt="p", model="local", provider="local", width=1,
                    height=1, n=1, created_at=T0, updated_at=T0, status=status,
                    progress_percent=progress)


@pytest.mark.parametrize("statuses, expected", [
    ([JobStatus.QUEUED, JobStatus.QUEUED], BatchStatus.QUEUED),
    ([JobStatus.QUEUED, JobStatus.COMPLETED], BatchStatus.PROCESSING),
    ([JobStatus.GENERATING, JobStatus.FAILED], BatchStatus.PROCESSING),
    ([JobStatus.COMPLETED, JobStatus.COMPLETED], BatchStatus.COMPLETED),
    ([JobStatus.COMPLETED, JobStatus.FAILED], BatchStatus.PARTIALLY_FAILED),
    ([JobStatus.COMPLETED, JobStatus.CANCELLED], BatchStatus.PARTIALLY_FAILED),
    ([JobStatus.FAILED, JobStatus.CANCELLED], BatchStatus.FAILED),
    ([JobStatus.CANCELLED, JobStatus.CANCELLED], BatchStatus.CANCELLED),
])
def test_a_batch_status_is_derived_from_its_children(statuses: list[JobStatus], expected: BatchStatus) -> None:
    assert summarize([_job(s) for s in statuses]).status is expected


def test_batch_progress_is_the_mean_of_the_children_and_counts_are_per_status() -> None:
    summary = summarize([_job(JobStatus.COMPLETED, 100), _job(JobStatus.GENERATING, 15),
                         _job(JobStatus.QUEUED, 0)])
    assert summary.progress_percent == 38
    assert summary.counts == {"completed": 1, "generating": 1, "queued": 1}
    with pytest.raises(ValueError):
        summarize([])
