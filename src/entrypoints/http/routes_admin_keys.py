"""/v1/admin/keys: list, create, revoke and rotate API keys, for admin API keys only (403 else).

The web console calls these routes; their paths and shapes are a contract (ADR 0090).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from application.principal import Principal, require_admin
from application.use_cases.api_keys import CreateApiKey, ListApiKeys, RevokeApiKey, RotateApiKey
from domain.accounts import ApiKey
from entrypoints.http.errors import documented
from entrypoints.http.schemas import Api


class KeyCreateIn(Api):
    user_id: str
    admin: bool = False
    project_id: str | None = None
    expires_at: datetime | None = None


class AdminKeyOut(Api, omit_defaults=True):
    id: str
    user_id: str
    prefix: str
    state: str  # active | revoked | expired
    created_at: datetime
    project_id: str | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class IssuedKeyOut(AdminKeyOut, omit_defaults=True):
    secret: str = ""  # the bearer key; shown only in this answer
    user_created: bool = False
    promoted: bool = False


class AdminKeyPage(Api):
    items: list[AdminKeyOut]


def _out(key: ApiKey, now: datetime) -> dict[str, object]:
    return dict(id=key.id, user_id=key.user_id, prefix=key.prefix, state=key.state_at(now),
                created_at=key.created_at, project_id=key.project_id, expires_at=key.expires_at,
                last_used_at=key.last_used_at, revoked_at=key.revoked_at)


class AdminKeysController(Controller):
    path = "/v1/admin/keys"
    tags = ["admin"]

    @get("/", operation_id="adminListKeys", summary="API keys (never their secrets), newest first",
         responses=documented(401, 403, 422))
    async def list_keys(
        self, principal: NamedDependency[Principal], list_api_keys: NamedDependency[ListApiKeys],
        clock: NamedDependency[Any],
        user_id: Annotated[str | None, QueryParameter(name="userId", description="only this user's keys")] = None,
    ) -> AdminKeyPage:
        require_admin(principal)
        now = clock.now()
        return AdminKeyPage(items=[AdminKeyOut(**_out(k, now)) for k in await list_api_keys(user_id)])

    @post("/", operation_id="adminCreateKey", status_code=201, responses=documented(401, 403, 422),
          summary="Create a key (and the user, with starter credits); the secret is answered once",
          description="`admin: true` makes a new user an admin and promotes an existing one "
                      "(`promoted: true`).")
    async def create_key(self, data: JSONBody[KeyCreateIn], principal: NamedDependency[Principal],
                         create_api_key: NamedDependency[CreateApiKey],
                         clock: NamedDependency[Any]) -> IssuedKeyOut:
        require_admin(principal)
        issued = await create_api_key(data.user_id, admin=data.admin, project_id=data.project_id,
                                      expires_at=data.expires_at)
        return IssuedKeyOut(**_out(issued.key, clock.now()), secret=issued.secret,
                            user_created=issued.user_created, promoted=issued.promoted)

    @post("/{key_id:str}/revoke", operation_id="adminRevokeKey", status_code=200,
          responses=documented(401, 403, 404),
          summary="Revoke a key: refused at once here, everywhere within IMAGEGEN_AUTH_CACHE_TTL_S")
    async def revoke_key(self, key_id: FromPath[str], principal: NamedDependency[Principal],
                         revoke_api_key: NamedDependency[RevokeApiKey],
                         clock: NamedDependency[Any]) -> AdminKeyOut:
        require_admin(principal)
        return AdminKeyOut(**_out(await revoke_api_key(key_id), clock.now()))

    @post("/{key_id:str}/rotate", operation_id="adminRotateKey", status_code=201,
          responses=documented(401, 403, 404, 422),
          summary="A new key for the same user, project and expiry; the old one is revoked")
    async def rotate_key(self, key_id: FromPath[str], principal: NamedDependency[Principal],
                         rotate_api_key: NamedDependency[RotateApiKey],
                         clock: NamedDependency[Any]) -> IssuedKeyOut:
        require_admin(principal)
        issued = await rotate_api_key(key_id)
        return IssuedKeyOut(**_out(issued.key, clock.now()), secret=issued.secret)


_ = msgspec  # msgspec types above are the wire shapes
