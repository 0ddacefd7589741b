"""Bare baseline for P4: the rows the audit reads, fetched with asyncpg, decoded with msgspec,
folded into balances. Prints `events=<n> seconds=<s>` (the process's own wall time is what the
benchmark compares, imports included, like the `imagegen ledger audit` it stands beside).

usage: python replay_asyncpg.py postgresql://.../db
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict

import asyncpg
import msgspec


class Event(msgspec.Struct):
    type: str
    account_id: str
    version: int
    amount: int


async def main(dsn: str) -> None:
    started = time.perf_counter()
    decode = msgspec.json.Decoder(Event).decode
    conn = await asyncpg.connect(dsn)
    balances: dict[str, int] = defaultdict(int)
    versions: dict[str, int] = {}
    count = 0
    try:
        async with conn.transaction():
            async for row in conn.cursor("SELECT payload FROM ledger_events ORDER BY account_id, version",
                                         prefetch=10_000):
                event = decode(row[0])
                sign = -1 if event.type == "credits_reserved" else 1
                if event.type != "reservation_captured":
                    balances[event.account_id] += sign * event.amount
                versions[event.account_id] = event.version
                count += 1
        await conn.fetch("SELECT account_id, snapshot FROM balances")
    finally:
        await conn.close()
    print(f"events={count} accounts={len(balances)} seconds={time.perf_counter() - started:.3f}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
