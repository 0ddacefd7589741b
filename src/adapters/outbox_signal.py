"""OutboxSignal: wakes this process's outbox relay as soon as a unit of work commits a message.

The relay otherwise polls every `relay_interval_s`; waking it at once keeps a webhook's or a
retry's latency at one relay pass instead of one interval (ADR 0053). `notify()` may be called
from any thread (Dramatiq actors run on their own loop thread); the waiter runs on one loop.
Other processes are not woken: their relays still poll, and a message is published by
whichever relay claims it first.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class OutboxSignal:
    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = False
        self._lock = threading.Lock()

    def notify(self) -> None:
        """Ask the relay to run now; coalesces with notifications not yet consumed."""
        with self._lock:
            self._pending = True
            loop, event = self._loop, self._event
        if loop is None or event is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            with contextlib.suppress(RuntimeError):  # the waiter's loop has closed
                loop.call_soon_threadsafe(event.set)

    async def wait(self, timeout_s: float) -> bool:
        """Return True when notified (now or earlier, unconsumed), False after `timeout_s`."""
        with self._lock:
            if self._event is None or self._loop is not asyncio.get_running_loop():
                self._loop, self._event = asyncio.get_running_loop(), asyncio.Event()
            if self._pending:
                self._pending = False
                self._event.clear()
                return True
            event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
        except TimeoutError:
            return False
        with self._lock:
            self._pending = False
            event.clear()
        return True
