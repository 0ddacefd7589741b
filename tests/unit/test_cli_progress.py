"""The CLI's progress line: percent, step, attempt, elapsed time, ETA, and why a retry happened."""

from __future__ import annotations

import asyncio
import io

import msgspec
import pytest

from adapters.clock import FakeClock
from domain.jobs import JobStatus, JobStatusChanged
from entrypoints.cli_progress import ProgressBar

pytestmark = pytest.mark.unit


class View(msgspec.Struct):
    error_class: str | None = None
    error_message: str | None = None
    eta_seconds: int | None = None

    @property
    def job(self) -> View:
        return self


def event(clock: FakeClock, status: JobStatus, percent: int, step: str) -> JobStatusChanged:
    return JobStatusChanged(job_id="job_1", user_id="u", status=status, progress_percent=percent,
                            current_step=step, occurred_at=clock.now())


async def test_the_line_shows_attempt_elapsed_eta_and_says_why_a_job_goes_back() -> None:
    clock, stream = FakeClock(), io.StringIO()
    view = View(eta_seconds=12)

    async def lookup() -> View:
        return view

    bar = ProgressBar(stream, clock=clock, lookup=lookup)
    events: asyncio.Queue[JobStatusChanged] = asyncio.Queue()
    finished = asyncio.Event()

    async def run() -> None:
        events.put_nowait(event(clock, JobStatus.QUEUED, 0, "Waiting in the queue"))
        await asyncio.sleep(0)
        clock.advance(3)
        events.put_nowait(event(clock, JobStatus.GENERATING, 15, "Generating"))
        await asyncio.sleep(0.01)
        view.error_class, view.error_message = "rate_limited", "slow down"
        clock.advance(4)
        events.put_nowait(event(clock, JobStatus.QUEUED, 0, "Waiting to retry"))
        await asyncio.sleep(0.01)
        view.eta_seconds = None
        clock.advance(5)
        events.put_nowait(event(clock, JobStatus.GENERATING, 15, "Generating"))
        events.put_nowait(event(clock, JobStatus.COMPLETED, 100, "Done"))
        await asyncio.sleep(0.01)
        finished.set()

    await asyncio.gather(bar.follow(events, "job_1", finished.wait()), run())
    lines = stream.getvalue().splitlines()
    assert "15% Generating | attempt 1 | 3s elapsed | ETA 12s" in lines[1]
    assert lines[2] == ("attempt 1 did not finish (rate_limited: slow down); "
                        "back in the queue for another attempt")
    assert "attempt 2 | 12s elapsed" in lines[-2]
    assert lines[-1].endswith("100% Done | attempt 2 | 12s elapsed")  # no ETA once finished
