"""Reservations of the credit ledger in rows of their own (ADR 0048).

One row per reserved job, written when the reservation event is appended and updated once when
it settles, so a ledger write costs O(1) whatever the number of open reservations, and a ledger
loaded for a job knows whether that job's reservation already settled. The rows are a
projection of `ledger_events`, like `balances`, and the audit compares them with the replay.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table

from adapters.persistence.sqlalchemy.tables import UtcDateTime, metadata

ledger_reservations = Table(
    "ledger_reservations", metadata,
    Column("account_id", String(64), primary_key=True),
    Column("job_id", String(64), primary_key=True),
    Column("amount", BigInteger, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("reserved_version", Integer, nullable=False),
    Column("settled_version", Integer),  # NULL while open
    Column("captured", BigInteger),
    Column("released", BigInteger),
    Index("ix_ledger_reservations_open", "expires_at",
          postgresql_where=Column("settled_version").is_(None),
          sqlite_where=Column("settled_version").is_(None)),
)
