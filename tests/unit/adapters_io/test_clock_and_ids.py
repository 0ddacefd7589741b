"""Clocks and ULID ids: real time is aware UTC, fake time moves on sleep, ids sort by time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.clock import FakeClock, SystemClock
from adapters.ids import UlidIdGenerator, encode_ulid

pytestmark = pytest.mark.unit

CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def test_system_clock_is_timezone_aware_utc_and_sleeps() -> None:
    clock = SystemClock()
    before = clock.now()
    await clock.sleep(0)
    assert before.tzinfo is UTC
    assert clock.now() >= before


async def test_fake_clock_sleep_advances_time_at_once_and_records_it() -> None:
    clock = FakeClock(START)
    await clock.sleep(90)
    clock.advance(10)
    assert clock.now() == START + timedelta(seconds=100)
    assert clock.sleeps == [90]


def test_fake_clock_refuses_naive_start_and_going_back() -> None:
    with pytest.raises(ValueError):
        FakeClock(datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        FakeClock(START).advance(-1)


def test_ulid_encoding_matches_the_spec_bounds() -> None:
    assert encode_ulid(0, 0) == "0" * 26
    assert encode_ulid(2**48 - 1, 2**80 - 1) == "7" + "Z" * 25
    with pytest.raises(ValueError):
        encode_ulid(2**48, 0)


def test_ids_have_the_prefix_and_26_crockford_characters() -> None:
    new_id = UlidIdGenerator().new_id("job")
    prefix, _, ulid = new_id.partition("_")
    assert prefix == "job"
    assert len(ulid) == 26 and set(ulid) <= CROCKFORD


def test_ids_are_strictly_increasing_within_one_millisecond() -> None:
    ids = UlidIdGenerator(FakeClock(START))
    made = [ids.new_id("job") for _ in range(1000)]
    assert made == sorted(made)
    assert len(set(made)) == 1000


def test_ids_sort_by_creation_time_and_carry_it() -> None:
    clock = FakeClock(START)
    ids = UlidIdGenerator(clock)
    first = ids.new_id("job")
    clock.advance(0.001)
    second = ids.new_id("job")
    assert first < second
    expected_ms = int(START.timestamp() * 1000)
    assert first[4:14] == encode_ulid(expected_ms, 0)[:10]
