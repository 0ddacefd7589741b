"""Tables of outgoing (client) webhooks: endpoints, deliveries with their schedule, attempts."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text

from adapters.persistence.sqlalchemy.tables import UtcDateTime, metadata

webhook_endpoints = Table(
    "webhook_endpoints", metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("event_types", Text, nullable=False),  # JSON array
    Column("secret", String(128), nullable=False),
    Column("description", String(200), nullable=False, server_default=""),
    Column("created_at", UtcDateTime, nullable=False),
    Column("previous_secret", String(128)),
    Column("previous_secret_until", UtcDateTime),
)

webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("id", String(64), primary_key=True),  # the webhook-id, stable across retries
    Column("endpoint_id", String(64), nullable=False, index=True),
    Column("user_id", String(64), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("delivered_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_user_created", "user_id", "created_at"),
)

webhook_attempts = Table(
    "webhook_attempts", metadata,
    Column("delivery_id", String(64), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("attempted_at", UtcDateTime, nullable=False),
    Column("status_code", Integer),
    Column("error", Text),
    Column("duration_ms", Integer, nullable=False),
    Column("succeeded", Boolean, nullable=False),
)
