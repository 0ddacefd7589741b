"""Bearer API keys: the `principal` dependency every /v1 handler receives."""

from __future__ import annotations

import structlog
from litestar import Request

from application.principal import Principal
from application.use_cases.api_keys import Authenticate


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def principal_provider(authenticate: Authenticate):  # type: ignore[no-untyped-def]
    """Build the dependency function resolving the caller from its Authorization header."""

    async def provide_principal(request: Request) -> Principal:
        principal = await authenticate(bearer_token(request))
        structlog.contextvars.bind_contextvars(user_id=principal.user_id)
        request.scope.setdefault("state", {})["user_id"] = principal.user_id  # for the access line
        return principal

    return provide_principal
