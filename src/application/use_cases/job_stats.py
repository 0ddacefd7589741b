"""JobStats: success rate, processing-time percentiles, credits and provider cost, per model and day."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from application.ports import Clock, ModelStats, StatsReader
from application.principal import Principal, require_admin
from domain.errors import InvalidRequest

MAX_DAYS = 366


class StatsReport(msgspec.Struct, frozen=True, kw_only=True):
    since: datetime
    scope: str  # a user id, or "all"
    rows: list[ModelStats]


class JobStats:
    def __init__(self, *, reader: StatsReader, clock: Clock, sample_limit: int = 10_000) -> None:
        self._reader, self._clock, self._sample_limit = reader, clock, sample_limit

    async def __call__(self, principal: Principal, *, days: int = 30, everyone: bool = False) -> StatsReport:
        """The caller's jobs created in the last `days` days; `everyone` needs an admin key."""
        if not 1 <= days <= MAX_DAYS:
            raise InvalidRequest("days", f"must be between 1 and {MAX_DAYS}")
        if everyone:
            require_admin(principal)
        since = self._clock.now() - timedelta(days=days)
        user = None if everyone else principal.user_id
        rows = await self._reader.job_stats(user, since=since, sample_limit=self._sample_limit)
        return StatsReport(since=since, scope="all" if everyone else principal.user_id, rows=rows)
