"""A task queue inside the running event loop, for the embedded profile and tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import structlog

from adapters.clock import SystemClock
from application.ports import Clock, TaskQueue

log = structlog.get_logger(__name__)

Handler = Callable[[str], Awaitable[object]]


class InProcessTaskQueue(TaskQueue):
    """Runs `handler(job_id)` as asyncio tasks, at most `concurrency` at a time.

    Delays are waited on the clock before a slot is taken, so delayed jobs hold no slot.
    A handler's exception is logged with its traceback and the queue carries on; the job
    itself stays in the database, whose dispatcher re-sends due work. Nothing survives the
    process: that is the embedded profile's trade-off.
    """

    def __init__(self, handler: Handler | None = None, concurrency: int = 4,
                 clock: Clock | None = None) -> None:
        """Create the queue; `handler` may be given later with `bind`.

        Raises:
            ValueError: if `concurrency` is below 1.
        """
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._handler = handler
        self._slots = asyncio.Semaphore(concurrency)
        self._clock = clock or SystemClock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def bind(self, handler: Handler) -> None:
        """Set the handler (the container builds the queue before the use case it runs)."""
        self._handler = handler

    @property
    def alive(self) -> bool:
        """True until `close`: the queue accepts work (readiness)."""
        return not self._closed

    @property
    def size(self) -> int:
        """Tasks waiting, delayed or running."""
        return len(self._tasks)

    async def enqueue(self, job_id: str, *, delay_s: float = 0.0) -> None:
        """Schedule `handler(job_id)` on the running loop after `delay_s` seconds.

        After `close` the job is dropped with a warning.

        Raises:
            RuntimeError: if no handler is bound, or no event loop is running.
        """
        if self._handler is None:
            raise RuntimeError("InProcessTaskQueue has no handler; call bind() first")
        if self._closed:
            log.warning("task_dropped_queue_closed", job_id=job_id)
            return
        task = asyncio.get_running_loop().create_task(self._run(job_id, delay_s),
                                                      name=f"task:{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until nothing is waiting, delayed or running (including work enqueued meanwhile)."""
        while pending := self._others():
            await asyncio.wait(pending)

    async def close(self) -> None:
        """Refuse new work, cancel everything waiting or running, and wait for it to stop."""
        self._closed = True
        pending = self._others()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _others(self) -> set[asyncio.Task[None]]:
        """Our tasks, minus the caller's own (a handler may drain without waiting on itself)."""
        return self._tasks - {asyncio.current_task()}

    async def _run(self, job_id: str, delay_s: float) -> None:
        if delay_s > 0:
            await self._clock.sleep(delay_s)
        async with self._slots:
            handler = self._handler
            assert handler is not None  # enqueue checked it; bind never unsets it
            started = time.perf_counter()
            try:
                await handler(job_id)
            except Exception:
                log.exception("task_failed", job_id=job_id)
            else:
                log.debug("task_done", job_id=job_id,
                          duration_ms=round((time.perf_counter() - started) * 1000, 2))
