"""Postgres going away under the production API: requests answer 503 while it is unreachable
and succeed again once it is back, with no restart. The outage is a TCP proxy on loopback that
the test closes and reopens; the machine's Postgres is never touched."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from entrypoints.http.app import create_app
from tests.integration.production.conftest import empty_tables
from tests.integration.production.helpers import RecordingQueue, production_container

pytestmark = pytest.mark.integration


class TcpProxy:
    """Forwards 127.0.0.1:<port> to `target`; `stop` drops every connection and refuses new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update({writer, up_writer})


@pytest.fixture
async def proxied_url(migrated_postgres: str) -> AsyncIterator[tuple[str, TcpProxy]]:
    parts = urlsplit(migrated_postgres)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    netloc = parts.netloc.replace(f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname),
                                  f"127.0.0.1:{proxy.port}")
    yield urlunsplit(parts._replace(netloc=netloc)), proxy
    with contextlib.suppress(Exception):
        await proxy.stop()


async def test_the_api_answers_503_while_postgres_is_unreachable_and_recovers_after(
    proxied_url: tuple[str, TcpProxy], tmp_path: Path
) -> None:
    url, proxy = proxied_url
    container = production_container(url, tmp_path, queue=RecordingQueue(), db_pool_timeout_s=2)
    await empty_tables(container.adapters.engine())
    app = create_app(container=container, manage_container=False)
    body = {"prompt": "through the outage", "model": "local", "size": "64x64"}
    try:
        await container.use_cases.ensure_user()("user_db", starter_credits=10)
        key = (await container.use_cases.create_api_key()("user_db")).secret
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as client:
            before = await client.post("/v1/jobs", json=body, headers=headers)
            await proxy.stop()
            during = [await client.post("/v1/jobs", json=body, headers=headers),
                      await client.get("/v1/credits", headers=headers)]
            await proxy.start()
            after = await client.post("/v1/jobs", json=body, headers=headers)
            credits = await client.get("/v1/credits", headers=headers)
    finally:
        await container.close()
    assert before.status_code == 201
    assert [r.status_code for r in during] == [503, 503]
    assert during[0].json()["error"]["type"] == "unavailable"
    assert after.status_code == 201, after.text
    assert credits.json()["available"] == 8  # two jobs reserved, nothing from the outage
