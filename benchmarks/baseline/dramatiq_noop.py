"""Bare baseline for P3: a Dramatiq no-op actor on Redis.

`BENCH_QUEUE` names the queue (unique per run); `REDIS_URL` the broker. Run the drain with
`python -m dramatiq dramatiq_noop --processes 2 --threads 8`; enqueue with `python dramatiq_noop.py N`.
"""

from __future__ import annotations

import os
import sys

import dramatiq
from dramatiq.brokers.redis import RedisBroker

broker = RedisBroker(url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
dramatiq.set_broker(broker)


@dramatiq.actor(max_retries=0, queue_name=os.environ.get("BENCH_QUEUE", "bench_noop"))
def noop(i: int) -> None:
    return None


if __name__ == "__main__":
    for index in range(int(sys.argv[1])):
        noop.send(index)
