"""Streaming previews end to end on the embedded profile: the local provider's partial images
reach SSE as `preview` events, GET /v1/jobs/{id} shows `previewUrl` while the job runs, and the
preview is gone (object and URL) once the final image replaced it (ADR 0072)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from adapters.image_providers.local import LocalImageProvider
from application.ports import ProviderRequest, ProviderResult
from entrypoints.settings import Settings
from tests.integration.http.conftest import Api, running_api
from tests.integration.http.test_job_events import parse_sse

pytestmark = pytest.mark.integration


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings.from_env({"IMAGEGEN_HOME": str(tmp_path / "home")},
                             public_base_url="http://testserver.local", **overrides)


@pytest.fixture
async def slow_api(tmp_path: Path) -> AsyncIterator[Api]:
    async with running_api(_settings(tmp_path, local_latency_s=0.2)) as running:
        yield running


async def test_local_previews_arrive_on_sse_before_the_result_and_are_removed_when_it_is_stored(
        slow_api: Api) -> None:
    headers = await slow_api.key_for("alice", credits=10)
    job = (await slow_api.client.post("/v1/jobs", headers=headers, json={
        "prompt": "a fox", "size": "96x64", "model": "local-stream"})).json()

    response = await asyncio.wait_for(
        slow_api.client.get(f"/v1/jobs/{job['id']}/events", headers=headers), timeout=10)

    events = parse_sse(response.text)
    kinds = [(e["event"], e.get("index", e.get("status"))) for e in events]
    previews = [e for e in events if e["event"] == "preview"]
    assert [p["index"] for p in previews] == [0, 1]
    assert kinds.index(("preview", 1)) < kinds.index(("status", "uploading"))
    assert kinds[-1] == ("status", "completed")
    assert all(p["previewUrl"].startswith("http://testserver.local/files/users/alice/jobs/")
               and "preview.png" in p["previewUrl"] for p in previews)
    done = (await slow_api.client.get(f"/v1/jobs/{job['id']}", headers=headers)).json()
    assert done["previewUrl"] is None and len(done["images"]) == 1
    assert not list((slow_api.container.settings.home / "objects").rglob("preview.*"))
    balance = (await slow_api.client.get("/v1/credits", headers=headers)).json()
    assert balance["lifetimeSpent"] == 1  # the previews were not charged


async def test_a_plain_local_model_streams_nothing(slow_api: Api) -> None:
    headers = await slow_api.key_for("bob", credits=10)
    job = (await slow_api.client.post("/v1/jobs", headers=headers, json={
        "prompt": "a fox", "size": "64x64"})).json()

    response = await slow_api.client.get(f"/v1/jobs/{job['id']}/events", headers=headers)

    assert {e["event"] for e in parse_sse(response.text)} == {"status"}


class GatedLocal(LocalImageProvider):
    """The local provider, holding the job after its first preview until the test lets go."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.previewed, self.gate = asyncio.Event(), asyncio.Event()

    async def generate(self, request: ProviderRequest) -> ProviderResult:
        sink = request.previews

        async def held(data: bytes, index: int) -> None:
            assert sink is not None
            await sink(data, index)
            if index == 0:
                self.previewed.set()
                await self.gate.wait()

        return await super().generate(ProviderRequest(**{
            **{f: getattr(request, f) for f in request.__struct_fields__}, "previews": held}))


async def test_get_job_shows_the_preview_url_while_the_job_runs(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    async with running_api(settings) as api:
        gated = GatedLocal(models={s.name: s for s in settings.models})
        registry = api.container.adapters.image_providers()
        registry._providers["local"] = gated  # the worker's registry, already built
        headers = await api.key_for("carol", credits=10)
        job = (await api.client.post("/v1/jobs", headers=headers, json={
            "prompt": "a fox", "size": "64x64", "model": "local-stream"})).json()
        await asyncio.wait_for(gated.previewed.wait(), timeout=10)

        live = (await api.client.get(f"/v1/jobs/{job['id']}", headers=headers)).json()
        preview = await api.client.get(live["previewUrl"].removeprefix("http://testserver.local"))

        assert live["status"] == "generating"
        assert preview.status_code == 200 and preview.content.startswith(b"\x89PNG")
        gated.gate.set()
        await api.settle()
        done = (await api.client.get(f"/v1/jobs/{job['id']}", headers=headers)).json()
        assert done["status"] == "completed" and done["previewUrl"] is None
        gone = await api.client.get(live["previewUrl"].removeprefix("http://testserver.local"))
        assert gone.status_code == 404
