"""The relational schema, as SQLAlchemy Core tables; one schema for SQLite and Postgres.

Rows never leave `adapters.persistence.sqlalchemy`: each repository maps them to domain values
with explicit `_to_domain` / `_to_row` functions. Invariants the database itself enforces:

- a job row changes only from the revision it was read at (compare-and-set, in `jobs.py`);
- ``(account_id, version)`` is unique in `ledger_events` (optimistic concurrency of the ledger);
- a job has at most one settlement event per account (partial unique index);
- an API key hash is unique, and a key belongs to an existing user.

Datetimes are stored as timezone-aware UTC (`UtcDateTime`); SQLite keeps no zone, so UTC is
re-attached on the way out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect

from domain.ledger_events import ReservationCaptured, ReservationReleased

#: Event types that settle a reservation; a job may have at most one per account.
SETTLEMENT_TYPES: tuple[str, ...] = tuple(
    str(cls.__struct_config__.tag) for cls in (ReservationCaptured, ReservationReleased))

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend; naive datetimes are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store takes timezone-aware UTC only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _id(name: str, *args: Any, **kw: Any) -> Column[str]:
    return Column(name, String(64), *args, **kw)


jobs = Table(
    "jobs", metadata,
    _id("id", primary_key=True),
    _id("user_id", nullable=False),
    Column("prompt", Text, nullable=False),
    Column("model", String(128), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("n", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("status", String(32), nullable=False),
    Column("seed", BigInteger),
    _id("project_id"),
    _id("parent_job_id"),
    Column("kind", String(32), nullable=False),
    Column("estimated_credits", BigInteger, nullable=False),
    Column("charged_credits", BigInteger),
    Column("provider_cost_micros", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("progress_percent", Integer, nullable=False),
    Column("current_step", Text, nullable=False),
    Column("error_class", String(64)),
    Column("error_message", Text),
    Column("failure_stage", String(32)),
    Column("provider_job_id", String(255)),
    Column("worker_id", String(255)),
    Column("lease_expires_at", UtcDateTime),
    Column("next_attempt_at", UtcDateTime),
    Column("started_at", UtcDateTime),
    Column("generating_at", UtcDateTime),
    Column("uploading_at", UtcDateTime),
    Column("completed_at", UtcDateTime),
    Column("failed_at", UtcDateTime),
    Column("cancelled_at", UtcDateTime),
    Column("image_ids", Text, nullable=False),  # JSON array of ids
    Column("input_image_ids", Text, nullable=False),  # JSON array of ids
    _id("mask_image_id"),
    Column("revision", Integer, nullable=False),
    _id("retry_of_job_id"),  # the failed or cancelled job this one retries (migration 0003)
    Column("dispatched_at", UtcDateTime),  # a reaper last re-sent this queued job (ADR 0041)
    Index(None, "user_id", "created_at"),
    Index(None, "status", "created_at"),
    Index(None, "project_id"),
    # one retry per job: retrying a job twice returns the first retry (migration 1300)
    Index("uq_jobs_retry_of_job_id", "retry_of_job_id", unique=True),
)

ledger_events = Table(
    "ledger_events", metadata,
    _id("account_id", primary_key=True),
    Column("version", Integer, primary_key=True),  # the primary key is UNIQUE(account_id, version)
    Column("type", String(32), nullable=False),
    _id("job_id"),
    Column("amount", BigInteger, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("payload", Text, nullable=False),  # domain.ledger_events.encode_event(event)
)
_settlement = text("type IN (" + ", ".join(f"'{t}'" for t in SETTLEMENT_TYPES) + ")")
Index(
    "uq_ledger_events_one_settlement_per_job",
    ledger_events.c.account_id, ledger_events.c.job_id,
    unique=True, sqlite_where=_settlement, postgresql_where=_settlement,
)

balances = Table(
    "balances", metadata,
    _id("account_id", primary_key=True),
    Column("version", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("available", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False),
    Column("lifetime_spent", BigInteger, nullable=False),
    Column("snapshot", Text, nullable=False),  # msgspec JSON of domain.credits.LedgerSnapshot
    Column("updated_at", UtcDateTime, nullable=False),
    # "hmac-sha256" once the account's chain is keyed; "sha256" for a chain written before the
    # ledger key existed, until it is re-sealed (ADR 0047). The audit fails any "sha256" row.
    Column("chain_kind", String(16), nullable=False, server_default="sha256"),
)

images = Table(
    "images", metadata,
    _id("id", primary_key=True),
    _id("job_id", nullable=False, index=True),
    _id("user_id", nullable=False, index=True),
    Column("index", Integer, nullable=False),
    Column("key", String(1024), nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

storage_usage = Table(
    "storage_usage", metadata,
    _id("user_id", primary_key=True),
    Column("used_bytes", BigInteger, nullable=False),
)

users = Table(
    "users", metadata,
    _id("id", primary_key=True),
    Column("plan", String(32), nullable=False),
    Column("is_admin", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

api_keys = Table(
    "api_keys", metadata,
    _id("id", primary_key=True),
    _id("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(32), nullable=False),
    _id("project_id"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
    Column("expires_at", UtcDateTime),
    Column("last_used_at", UtcDateTime),
)

# Tables defined in their own modules register on `metadata` when imported here.
from adapters.persistence.sqlalchemy import tables_outbox  # noqa: E402,F401
from adapters.persistence.sqlalchemy import tables_requests  # noqa: E402,F401
from adapters.persistence.sqlalchemy import tables_webhooks  # noqa: E402,F401
from adapters.persistence.sqlalchemy import tables_client_webhooks  # noqa: E402,F401
from adapters.persistence.sqlalchemy import tables_ledger  # noqa: E402,F401
