"""Periodic loops a process runs beside its main work: the outbox relay and the reaper."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

Wake = Callable[[float], Awaitable[object]]

import structlog

log = structlog.get_logger("imagegen.background")


async def every(name: str, interval_s: float, step: Callable[[], Awaitable[int]],
                wake: Wake | None = None) -> None:
    """Run `step` forever, `interval_s` apart; a failing step is logged and retried after the
    interval (doubled up to 30 s while it keeps failing). A step that did a full batch runs
    again at once; with `wake` (e.g. `OutboxSignal.wait`) an idle loop also runs as soon as
    `wake(interval_s)` returns, that is when it is notified."""
    delay = interval_s
    while True:
        try:
            done = await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a loop that dies silently loses jobs; log, go on
            log.warning("background.step_failed", loop=name, error=f"{type(exc).__name__}: {exc}")
            delay = min(max(delay * 2, interval_s), 30.0)
            await asyncio.sleep(delay)
            continue
        delay = interval_s
        if done < BATCH:
            await (asyncio.sleep(interval_s) if wake is None else wake(interval_s))


#: How many outbox rows or due jobs one step handles.
BATCH = 100


class BackgroundLoops:
    """Starts named loops as tasks on the running event loop, and cancels them on `stop`."""

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, interval_s: float, step: Callable[[], Awaitable[int]],
              wake: Wake | None = None) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(
            every(name, interval_s, step, wake), name=f"loop:{name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
