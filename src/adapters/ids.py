"""Time-sortable ids: a prefix plus a ULID (48-bit millisecond time, 80 random bits)."""

from __future__ import annotations

import secrets
import threading
import time

from application.ports import Clock, IdGenerator

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
_RANDOM_MAX = (1 << _RANDOM_BITS) - 1
_TIME_MAX = (1 << 48) - 1


def encode_ulid(timestamp_ms: int, randomness: int) -> str:
    """Encode a 48-bit time and 80 random bits as 26 Crockford base32 characters.

    Raises:
        ValueError: if either part is out of range.
    """
    if not 0 <= timestamp_ms <= _TIME_MAX or not 0 <= randomness <= _RANDOM_MAX:
        raise ValueError("ULID timestamp or randomness out of range")
    value = (timestamp_ms << _RANDOM_BITS) | randomness
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class UlidIdGenerator(IdGenerator):
    """Ids like 'job_01JB8X...' that sort by creation time, even within one millisecond.

    Within one millisecond (or if the clock steps back) the previous random part is
    incremented, as the ULID spec's monotonic mode does; on overflow the time part moves
    to the next millisecond, so ids from one generator are strictly increasing. Safe to
    share between threads.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        """Use `clock` for the time part, or the system's wall clock when None."""
        self._clock = clock
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def new_id(self, prefix: str) -> str:
        """Return f"{prefix}_{ulid}"; `prefix` should be a short lowercase noun like 'job'."""
        with self._lock:
            ms = self._now_ms()
            if ms <= self._last_ms:
                ms, rand = self._last_ms, self._last_random + 1
                if rand > _RANDOM_MAX:
                    ms, rand = ms + 1, secrets.randbits(_RANDOM_BITS)
            else:
                rand = secrets.randbits(_RANDOM_BITS)
            self._last_ms, self._last_random = ms, rand
        return f"{prefix}_{encode_ulid(ms, rand)}"

    def _now_ms(self) -> int:
        if self._clock is None:
            return time.time_ns() // 1_000_000
        return int(self._clock.now().timestamp() * 1000)
