"""The transactional outbox table: messages committed with the change that caused them."""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text

from adapters.persistence.sqlalchemy.tables import UtcDateTime, metadata

outbox = Table(
    "outbox", metadata,
    Column("id", String(64), primary_key=True),
    Column("job_id", String(64), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("dispatched_at", UtcDateTime),
    Column("attempts", Integer, nullable=False, server_default="0"),
    # In flight until then: one publisher owns the row, relays skip it (ADR 0053, migration 1300).
    Column("claimed_until", UtcDateTime),
    # Only undispatched rows are ever searched; a partial index keeps the relay's scan small.
    Index("ix_outbox_undispatched", "created_at", "id",
          postgresql_where=Column("dispatched_at").is_(None),
          sqlite_where=Column("dispatched_at").is_(None)),
)
