"""Clocks: the system's UTC wall clock, and a fake whose sleeps advance time instantly."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from application.ports import Clock


class SystemClock(Clock):
    """Real time: timezone-aware UTC `now()` and a real `asyncio.sleep`."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` (negative values wait not at all)."""
        await asyncio.sleep(max(0.0, seconds))


class FakeClock(Clock):
    """Test time that moves only when told to, or when someone sleeps.

    `sleep(s)` advances the time by `s` at once and yields to the event loop once, so code
    that waits out a delay runs instantly yet sees the time it waited for. Sleeps of
    concurrent tasks add up, since there is one timeline and no scheduler.

    Attributes:
        sleeps: every duration passed to `sleep`, in call order.
    """

    def __init__(self, start: datetime | None = None) -> None:
        """Start at `start` (default 2025-01-01T00:00Z).

        Raises:
            ValueError: if `start` is naive.
        """
        start = start or datetime(2025, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        """Return the fake current time."""
        return self._now

    async def sleep(self, seconds: float) -> None:
        """Advance by `seconds` (if positive) and yield control once."""
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        """Move the time forward by `seconds`.

        Raises:
            ValueError: if `seconds` is negative; this clock never goes back.
        """
        if seconds < 0:
            raise ValueError("FakeClock cannot go back in time")
        self._now += timedelta(seconds=seconds)
