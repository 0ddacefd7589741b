"""Retrying a unit of work that lost an optimistic-concurrency race."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from application.errors import ConcurrencyConflict

T = TypeVar("T")

MAX_CONFLICT_RETRIES = 20


async def retry_on_conflict(attempt: Callable[[], Awaitable[T]],
                            retries: int = MAX_CONFLICT_RETRIES) -> T:
    """Run `attempt` (a whole load-decide-commit cycle) again while it raises
    ConcurrencyConflict; the last conflict propagates after `retries` further tries."""
    for _ in range(retries):
        try:
            return await attempt()
        except ConcurrencyConflict:
            continue
    return await attempt()
