"""A terminal progress bar over a job's stages, fed by the job-event hub."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TextIO

from domain.jobs import JobStatusChanged

WIDTH = 30


class ProgressBar:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._last = ""

    async def follow(self, events: asyncio.Queue[JobStatusChanged], job_id: str,
                     done: Awaitable[None]) -> None:
        """Draw every event of `job_id` until `done` finishes, then drain what is left."""
        finished = asyncio.ensure_future(done)
        while True:
            getter = asyncio.ensure_future(events.get())
            await asyncio.wait({getter, finished}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                self._draw(getter.result(), job_id)
                continue
            getter.cancel()
            break
        while not events.empty():
            self._draw(events.get_nowait(), job_id)
        await finished
        if self._tty:
            self._stream.write("\n")
        self._stream.flush()

    def _draw(self, event: JobStatusChanged, job_id: str) -> None:
        if event.job_id != job_id or not isinstance(event, JobStatusChanged):
            return  # another job, or a preview (ADR 0072)
        filled = WIDTH * event.progress_percent // 100
        line = f"[{'#' * filled}{'.' * (WIDTH - filled)}] {event.progress_percent:3d}% {event.current_step}"
        if line == self._last:
            return
        self._last = line
        self._stream.write(("\r" + line.ljust(70)) if self._tty else line + "\n")
        self._stream.flush()
