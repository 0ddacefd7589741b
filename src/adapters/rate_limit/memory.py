"""Token buckets in a dict, for one process (the embedded profile); time from the Clock port."""

from __future__ import annotations

from application.ports import Clock, RateLimiter
from domain.rate_limit import BucketState, RateDecision, RateLimit, take

MAX_BUCKETS = 100_000


class InMemoryRateLimiter(RateLimiter):
    """Atomic within the event loop: `acquire` never awaits between reading and writing."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._buckets: dict[str, BucketState] = {}

    async def acquire(self, bucket: str, limit: RateLimit) -> RateDecision:
        now = self._clock.now().timestamp()
        if len(self._buckets) >= MAX_BUCKETS and bucket not in self._buckets:
            self._prune(now, limit)
        state, decision = take(self._buckets.get(bucket), limit, now)
        self._buckets[bucket] = state
        return decision

    def _prune(self, now: float, limit: RateLimit) -> None:
        """Forget buckets that have refilled completely: they are the same as no bucket."""
        full_after = limit.burst / limit.per_second
        for name in [n for n, s in self._buckets.items() if now - s.updated_at >= full_after]:
            del self._buckets[name]
