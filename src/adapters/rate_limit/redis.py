"""Token buckets in Redis, shared by every API process: one Lua script per request, atomic.

The script uses the Redis server's clock (TIME), so API hosts with skewed clocks agree, and
lets an idle bucket expire once it would be full again anyway.
"""

from __future__ import annotations

from typing import Any

from application.errors import ServiceUnavailable
from application.ports import RateLimiter
from domain.rate_limit import RateDecision, RateLimit

TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local data = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(data[1])
local ts = tonumber(data[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry = math.max(1, math.ceil((1 - tokens) / rate))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {allowed, math.floor(tokens), retry}
"""


class RedisRateLimiter(RateLimiter):
    """`client` is a `redis.asyncio.Redis`; buckets live under `prefix`."""

    def __init__(self, client: Any, prefix: str = "imagegen:ratelimit:") -> None:
        self._client = client
        self._prefix = prefix
        self._script = client.register_script(TOKEN_BUCKET_LUA)

    async def acquire(self, bucket: str, limit: RateLimit) -> RateDecision:
        from redis.exceptions import RedisError

        try:
            allowed, remaining, retry = await self._script(
                keys=[self._prefix + bucket], args=[limit.per_second, limit.burst])
        except (RedisError, OSError) as exc:
            raise ServiceUnavailable(f"rate limiter unreachable: {exc}") from exc
        return RateDecision(allowed=bool(int(allowed)), remaining=int(remaining),
                            retry_after_s=int(retry))
