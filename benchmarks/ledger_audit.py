"""P4: `imagegen ledger audit` of N ledger events on Postgres against the raw bar.

    uv run python benchmarks/ledger_audit.py [--events 1000000] [--accounts 10000]

Creates a scratch database, fills it with keyed chains (reserve / capture pairs after one
grant per account) through COPY, then measures, each in a fresh process (peak RSS is the
process's): the raw bar - asyncpg `fetch` of the same rows, msgspec decode of the payloads and a
balance fold - and the audit use case as the CLI runs it. Prints events/s, the ratio, peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
KEY = b"bench-ledger-key-0123456789abcdef"


async def _fill(dsn: str, events: int, accounts: int) -> None:
    import asyncpg
    import msgspec

    from adapters.ledger_chain import hmac_chain
    from adapters.persistence.sqlalchemy import create_engine, create_schema
    from domain.credits import CreditLedger

    engine = create_engine(dsn.replace("postgresql://", "postgresql+asyncpg://"))
    await create_schema(engine)
    await engine.dispose()
    hasher = hmac_chain(KEY)
    per = events // accounts
    now = datetime(2026, 12, 1, tzinfo=UTC)
    conn = await asyncpg.connect(dsn)
    try:
        for a in range(accounts):
            ledger = CreditLedger(f"user_{a:06d}", hasher=hasher)
            ledger.grant(10 * per, now=now)
            j = 0
            while ledger.version < per:
                ledger.reserve(f"job_{a}_{j}", 3, expires_at=now + timedelta(hours=1), now=now)
                if ledger.version < per:
                    ledger.capture(f"job_{a}_{j}", 2, now=now)
                j += 1
            rows = [(e.account_id, e.version, e.__struct_config__.tag, getattr(e, "job_id", None),
                     e.amount, e.occurred_at, e.prev_hash, e.hash,
                     msgspec.json.encode(e, order="sorted").decode())
                    for e in ledger.pending_events]
            await conn.copy_records_to_table("ledger_events", records=rows, columns=[
                "account_id", "version", "type", "job_id", "amount", "occurred_at", "prev_hash",
                "hash", "payload"])
            s = ledger.snapshot()
            await conn.execute(
                "INSERT INTO balances (account_id, version, last_hash, available, reserved, "
                "lifetime_spent, snapshot, updated_at, chain_kind) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,"
                "'hmac-sha256')", s.account_id, s.version, s.last_hash, s.available, s.reserved,
                s.lifetime_spent,
                msgspec.json.encode(msgspec.structs.replace(s, open_reservations=())).decode(), now)
            open_rows = [(s.account_id, r.job_id, r.amount, r.expires_at, 0)
                         for r in s.open_reservations]
            if open_rows:
                await conn.copy_records_to_table("ledger_reservations", records=open_rows, columns=[
                    "account_id", "job_id", "amount", "expires_at", "reserved_version"])
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def _raw(dsn: str) -> int:
    import asyncpg
    import msgspec

    from domain.ledger_events import AnyLedgerEvent

    decoder = msgspec.json.Decoder(AnyLedgerEvent)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT account_id, version, type, job_id, amount, occurred_at, "
                                "prev_hash, hash, payload FROM ledger_events "
                                "ORDER BY account_id, version")
    finally:
        await conn.close()
    balances: dict[str, list[int]] = {}
    for row in rows:
        event = decoder.decode(row[8])
        b = balances.setdefault(event.account_id, [0, 0, 0])
        kind = row[2]
        if kind == "credits_granted":
            b[0] += event.amount
        elif kind == "credits_reserved":
            b[0] -= event.amount
            b[1] += event.amount
        elif kind == "reservation_captured":
            b[1] -= event.amount + event.released
            b[0] += event.released
            b[2] += event.amount
    return len(rows)


async def _audit(dsn: str) -> int:
    """The audit use case on the production wiring's unit of work (what the CLI runs)."""
    from adapters.persistence.sqlalchemy import create_engine
    from adapters.persistence.sqlalchemy.uow import SqlAlchemyUnitOfWorkFactory
    from application.use_cases.audit_ledger import AuditLedger

    engine = create_engine(dsn)
    try:
        report = await AuditLedger(uow=SqlAlchemyUnitOfWorkFactory(engine, ledger_key=KEY))()
    finally:
        await engine.dispose()
    assert report.ok, [a for a in report.accounts if not a.ok][:3]
    return sum(a.events for a in report.accounts)


def _child(which: str, dsn: str) -> None:
    import asyncpg  # noqa: F401  (imports are not part of the measure)

    import adapters.persistence.sqlalchemy.uow  # noqa: F401
    import application.use_cases.audit_ledger  # noqa: F401

    started = time.perf_counter()
    count = asyncio.run(_raw(dsn) if which == "raw" else _audit(dsn))
    elapsed = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{which} {count} {elapsed:.3f} {rss_mb:.0f}")


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--child", nargs=2)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    name = f"bench_audit_{uuid.uuid4().hex[:8]}"
    dsn = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        t = time.perf_counter()
        asyncio.run(_fill(dsn, args.events, args.accounts))
        print(f"filled {args.events} events in {time.perf_counter() - t:.1f} s")
        results = {}
        for which in ("raw", "audit") * args.rounds:
            done = subprocess.run([sys.executable, __file__, "--child", which, dsn],
                                  capture_output=True, text=True)
            if done.returncode:
                sys.exit(done.stderr[-3000:])
            out = done.stdout.split()
            _, count, elapsed, rss = out
            results.setdefault(which, []).append((float(elapsed), int(count), rss))
            print(f"{which}: {int(count) / float(elapsed):,.0f} events/s, peak RSS {rss} MB")
        best = {w: min(r)[0] for w, r in results.items()}
        print(f"P4 ratio audit/raw: {best['raw'] / best['audit']:.2f}")
    finally:
        if "--keep" not in sys.argv:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
