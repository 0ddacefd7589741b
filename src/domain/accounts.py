"""Users and their API keys. Keys are stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import re
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
    expires_at: datetime | None = None
    last_used_at: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        """True unless the key is revoked or past its expiry at `now`."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def state_at(self, now: datetime) -> str:
        """`active`, `revoked` or `expired`, as listings show it."""
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.usable_at(now) else "expired"


def hash_api_key(secret: str) -> str:
    """SHA-256 hex of a key; keys are high-entropy random strings, so no slow hash is needed."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]{0,63}")


def user_id_problem(user_id: str) -> str | None:
    """Why `user_id` is not a valid user id (None when it is): 1-64 characters, letters, digits
    and `._:@+-`, starting with a letter or digit."""
    if not user_id:
        return "must not be empty"
    if _USER_ID.fullmatch(user_id) is None:
        return "must be 1-64 letters, digits or ._:@+- and start with a letter or digit"
    return None
