"""Issue 11: /metrics behind a token and cheap to scrape, /readyz cheap, /files absent (404) on
the S3 profile with nosniff on every file answer, secrets out of reprs, and the embedded home
private (0700 directory, 0600 files)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import event

from entrypoints.settings import Settings
from tests.integration.hostile.conftest import profile_api

pytestmark = pytest.mark.integration


def count_statements(engine, needle: str) -> list[str]:  # type: ignore[no-untyped-def]
    seen: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if needle in statement.upper():
            seen.append(statement)

    return seen


async def test_metrics_need_the_token_and_are_absent_without_one(profile_db, tmp_path: Path) -> None:
    async with profile_api(profile_db, tmp_path) as api:
        assert (await api.client.get("/metrics")).status_code == 404
    async with profile_api(profile_db, tmp_path / "2", metrics_token="s3cret") as api:
        assert (await api.client.get("/metrics")).status_code == 401
        assert (await api.client.get("/metrics", headers={"Authorization": "Bearer nope"})).status_code == 401
        ok = await api.client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and "imagegen_jobs" in ok.text


async def test_scrapes_do_not_scan_the_jobs_table_each_time(profile_db, tmp_path: Path) -> None:
    async with profile_api(profile_db, tmp_path, metrics_token="t", rate_limit_per_minute=0) as api:
        scans = count_statements(api.container.adapters.engine(), "GROUP BY")
        pings = count_statements(api.container.adapters.engine(), "SELECT 1")
        for _ in range(25):
            r = await api.client.get("/metrics", headers={"Authorization": "Bearer t"})
            assert r.status_code == 200
        for _ in range(25):
            assert (await api.client.get("/readyz")).status_code in (200, 503)
        assert len(scans) <= 1 and len(pings) <= 1


async def test_monitoring_routes_are_rate_limited(profile_db, tmp_path: Path) -> None:
    async with profile_api(profile_db, tmp_path, rate_limit_per_minute=6, rate_limit_burst=3,
                           metrics_token="t") as api:
        codes = [(await api.client.get("/readyz")).status_code for _ in range(5)]
        assert codes.count(429) >= 1
        assert (await api.client.get("/healthz")).status_code == 200  # liveness stays unthrottled


async def test_files_answer_with_nosniff_and_are_absent_on_the_s3_profile(profile_db, tmp_path: Path) -> None:
    async with profile_api(profile_db, tmp_path, run_worker=True) as api:
        headers = await api.key_for("alice", credits=5)
        job = (await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"}, headers=headers)).json()
        if profile_db is None:
            await api.settle()
        for r in [await api.client.get("/files/users/x.png?expires=1&sig=bad"),
                  await api.client.get("/files/users/x.png?expires=99999999999&sig=" + "0" * 64)]:
            assert r.status_code in (401, 404) and r.headers["x-content-type-options"] == "nosniff"
        if profile_db is None:  # embedded: a real signed link serves the file
            detail = (await api.client.get(f"/v1/jobs/{job['id']}", headers=headers)).json()
            image = (await api.client.get(f"/v1/images/{detail['images'][0]['id']}", headers=headers)).json()
            served = await api.client.get(image["url"].replace("http://testserver.local", ""))
            assert served.status_code == 200 and served.headers["x-content-type-options"] == "nosniff"


async def test_files_on_s3_storage_answer_404_not_500(tmp_path: Path) -> None:
    from dependency_injector import providers

    async with profile_api(None, tmp_path) as api:
        class S3Like:  # any storage that is not the local disk: S3 serves its own URLs
            async def get(self, key: str) -> bytes:
                raise AssertionError("never read through /files")

        api.container.adapters.storage.override(providers.Object(S3Like()))
        r = await api.client.get("/files/users/a/x.png?expires=99999999999&sig=abc")
        assert r.status_code == 404 and r.headers["x-content-type-options"] == "nosniff"
        assert r.json()["error"]["type"] == "not_found"


def test_settings_repr_masks_passwords_and_keys() -> None:
    settings = Settings.from_env({"IMAGEGEN_PROFILE": "production",
                                  "DATABASE_URL": "postgresql+asyncpg://app:pg-pass-123@db:5432/imagegen",
                                  "REDIS_URL": "redis://:redis-pass-456@cache:6379/0",
                                  "IMAGEGEN_METRICS_TOKEN": "metrics-tok-789",
                                  "OPENAI_API_KEY": "sk-live-000"})
    shown = repr(settings)
    for secret in ("pg-pass-123", "redis-pass-456", "metrics-tok-789", "sk-live-000"):
        assert secret not in shown and secret not in str(settings)
    assert "postgresql+asyncpg://app:***@db:5432/imagegen" in shown


async def test_the_embedded_home_is_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    async with profile_api(None, tmp_path, run_worker=True) as api:
        headers = await api.key_for("alice", credits=5)
        await api.client.post("/v1/jobs", json={"prompt": "p", "size": "64x64"}, headers=headers)
        await api.settle()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "imagegen.db" for p in files) and any(p.suffix == ".png" for p in files)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
