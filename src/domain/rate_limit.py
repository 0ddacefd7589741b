"""A token bucket: `burst` tokens at most, refilled at `per_minute / 60` tokens a second.

Each request takes one token; with none left it is refused and told how long until one is back.
The Redis adapter runs the same arithmetic in a Lua script, atomically on the server.
"""

from __future__ import annotations

import math

import msgspec


class RateLimit(msgspec.Struct, frozen=True, kw_only=True):
    per_minute: int
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst <= 0:
            raise ValueError("a rate limit needs a positive rate and burst")

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


class BucketState(msgspec.Struct, frozen=True, kw_only=True):
    tokens: float
    updated_at: float  # seconds, any monotonic-enough epoch


class RateDecision(msgspec.Struct, frozen=True, kw_only=True):
    allowed: bool
    remaining: int
    retry_after_s: int  # 0 when allowed; else whole seconds until a token is back (>= 1)


def take(state: BucketState | None, limit: RateLimit, now: float) -> tuple[BucketState, RateDecision]:
    """Refill the bucket up to `now`, then try to take one token.

    A missing state is a full bucket. Time going backwards refills nothing.
    """
    if state is None:
        tokens = float(limit.burst)
    else:
        elapsed = max(0.0, now - state.updated_at)
        tokens = min(float(limit.burst), state.tokens + elapsed * limit.per_second)
    if tokens >= 1.0:
        tokens -= 1.0
        return (BucketState(tokens=tokens, updated_at=now),
                RateDecision(allowed=True, remaining=int(tokens), retry_after_s=0))
    wait = (1.0 - tokens) / limit.per_second
    return (BucketState(tokens=tokens, updated_at=now),
            RateDecision(allowed=False, remaining=0, retry_after_s=max(1, math.ceil(wait))))
