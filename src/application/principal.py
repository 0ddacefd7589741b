"""Who is calling: the result of authenticating an API key."""

from __future__ import annotations

import msgspec


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    user_id: str
    key_id: str
    is_admin: bool = False
    project_id: str | None = None


def require_admin(principal: Principal) -> None:
    """Raise `Forbidden` unless the caller's key belongs to an admin user."""
    from application.errors import Forbidden

    if not principal.is_admin:
        raise Forbidden("this endpoint needs an admin API key")
