"""Tables of the client-facing request features: idempotency keys and batches."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Integer, LargeBinary, String, Table, Text, false

from adapters.persistence.sqlalchemy.tables import UtcDateTime, metadata

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("api_key_id", String(64), primary_key=True),  # the primary key is UNIQUE(api_key_id, key)
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("status_code", Integer),  # NULL while the first request is in progress
    Column("content_type", String(128)),
    Column("body", LargeBinary),
    # The request's commit may have happened: a retry looks its work up (ADR 0052, migration 1300).
    Column("in_doubt", Boolean, nullable=False, server_default=false()),
)

batches = Table(
    "batches", metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("job_ids", Text, nullable=False),  # JSON array of child job ids, in request order
)
