"""Who is calling: the result of authenticating an API key."""

from __future__ import annotations

import msgspec


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    key_id: str
    is_admin: bool = False
    project_id: str | None = None
