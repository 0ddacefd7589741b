"""A terminal progress line over a job's stages, fed by the job-event hub.

The line shows the percent, the step, the attempt, the elapsed time and an ETA, and on a
terminal it is redrawn every second even when no event comes, so a long provider call still
shows signs of life. When a job goes back to the queue for another attempt the bar says why
(the job's last error) before it starts again from the queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TextIO

from application.ports import Clock
from domain.jobs import JobStatus, JobStatusChanged

WIDTH = 30
TICK_S = 1.0


class ProgressBar:
    def __init__(self, stream: TextIO, *, clock: Clock,
                 lookup: Callable[[], Awaitable[Any]] | None = None) -> None:
        """`lookup` returns the job's current view (attempts, error, ETA) when given."""
        self._stream, self._clock, self._lookup = stream, clock, lookup
        self._tty = stream.isatty()
        self._last = ""
        self._started: datetime = clock.now()
        self._event: JobStatusChanged | None = None
        self._attempt = 0
        self._eta: int | None = None

    async def follow(self, events: asyncio.Queue[JobStatusChanged], job_id: str,
                     done: Awaitable[None]) -> None:
        """Draw every event of `job_id` until `done` finishes, then drain what is left."""
        self._started = self._clock.now()
        finished = asyncio.ensure_future(done)
        while True:
            getter = asyncio.ensure_future(events.get())
            await asyncio.wait({getter, finished}, timeout=TICK_S, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                await self._on_event(getter.result(), job_id)
                continue
            getter.cancel()
            if finished.done():
                break
            if self._tty and self._event is not None:  # a tick: time moves on
                await self._refresh_eta()
                self._draw()
        while not events.empty():
            await self._on_event(events.get_nowait(), job_id)
        await finished
        if self._tty:
            self._stream.write("\n")
        self._stream.flush()

    async def _on_event(self, event: JobStatusChanged, job_id: str) -> None:
        if event.job_id != job_id or not isinstance(event, JobStatusChanged):
            return  # another job, or a preview (ADR 0072)
        previous = self._event
        status = JobStatus(event.status)
        if status is JobStatus.QUEUED and previous is not None and JobStatus(previous.status) is not JobStatus.QUEUED:
            self._say(f"attempt {self._attempt} did not finish ({await self._reason()}); "
                      "back in the queue for another attempt")
        if status is JobStatus.GENERATING and (previous is None or JobStatus(previous.status) is not JobStatus.GENERATING):
            self._attempt += 1
        self._event = event
        await self._refresh_eta()
        self._draw()

    async def _reason(self) -> str:
        if self._lookup is None:
            return "retrying"
        view = await self._lookup()
        job = getattr(view, "job", view)
        if job.error_class:
            return f"{job.error_class}: {job.error_message or ''}".strip().rstrip(":")
        return "retrying"

    async def _refresh_eta(self) -> None:
        if self._lookup is None:
            return
        view = await self._lookup()
        self._eta = getattr(view, "eta_seconds", None)

    def line(self) -> str:
        event = self._event
        if event is None:
            return ""
        filled = WIDTH * event.progress_percent // 100
        elapsed = int((self._clock.now() - self._started).total_seconds())
        parts = [f"[{'#' * filled}{'.' * (WIDTH - filled)}] {event.progress_percent:3d}% {event.current_step}"]
        if self._attempt:
            parts.append(f"attempt {self._attempt}")
        parts.append(f"{elapsed}s elapsed")
        if self._eta is not None and not JobStatus(event.status).terminal:
            parts.append(f"ETA {self._eta}s")
        return " | ".join(parts)

    def _draw(self) -> None:
        line = self.line()
        if not line or line == self._last:
            return
        if not self._tty and self._last and line.split(" | ")[0] == self._last.split(" | ")[0]:
            return  # off a terminal, one line per change of stage, not per second
        self._last = line
        self._stream.write(("\r" + line.ljust(90)) if self._tty else line + "\n")
        self._stream.flush()

    def _say(self, message: str) -> None:
        self._stream.write(("\r" + message.ljust(90) + "\n") if self._tty else message + "\n")
        self._last = ""
        self._stream.flush()
