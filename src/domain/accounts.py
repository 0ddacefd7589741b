"""Users and their API keys. Keys are stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
from datetime import datetime

import msgspec

from domain.quota import Plan


class User(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    plan: Plan
    created_at: datetime
    is_admin: bool = False


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """A bearer credential; `key_hash` is SHA-256 of the secret, `prefix` helps humans find it."""

    id: str
    user_id: str
    key_hash: str
    prefix: str
    created_at: datetime
    project_id: str | None = None
    revoked_at: datetime | None = None


def hash_api_key(secret: str) -> str:
    """SHA-256 hex of a key; keys are high-entropy random strings, so no slow hash is needed."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
