"""Retention pruning on a real SQLite database, and the loops the app's lifespan starts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import func, insert, select

from adapters.persistence.sqlalchemy.tables_client_webhooks import webhook_attempts, webhook_deliveries
from adapters.persistence.sqlalchemy.tables_outbox import outbox
from adapters.persistence.sqlalchemy.tables_requests import idempotency_keys
from entrypoints.container import build_container, resolve_loops
from entrypoints.http.app import create_app
from entrypoints.settings import ConfigError, Settings

pytestmark = pytest.mark.integration


def _delivery(id_: str, status: str, created: datetime) -> dict[str, object]:
    return {"id": id_, "endpoint_id": "whep_1", "user_id": "u", "event_type": "job.completed",
            "payload": "{}", "status": status, "attempts": 1, "created_at": created}


async def test_pruning_deletes_only_old_finished_rows(tmp_path: Path) -> None:
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path), "IMAGEGEN_RETENTION_OUTBOX_S": "3600",
                                  "IMAGEGEN_RETENTION_IDEMPOTENCY_S": "3600",
                                  "IMAGEGEN_RETENTION_DELIVERIES_S": "3600"})
    container = build_container(settings)
    await container.start(run_worker=False)
    now = datetime.now(UTC)
    old, fresh = now - timedelta(hours=2), now - timedelta(minutes=5)
    try:
        async with container.adapters.engine().begin() as conn:
            await conn.execute(insert(outbox), [
                {"id": "o_old_sent", "job_id": "j", "topic": "t", "payload": "{}", "created_at": old,
                 "dispatched_at": old},
                {"id": "o_old_pending", "job_id": "j", "topic": "t", "payload": "{}", "created_at": old,
                 "dispatched_at": None},
                {"id": "o_new_sent", "job_id": "j", "topic": "t", "payload": "{}", "created_at": fresh,
                 "dispatched_at": fresh}])
            await conn.execute(insert(idempotency_keys), [
                {"api_key_id": "k", "key": "old", "fingerprint": "f", "created_at": old},
                {"api_key_id": "k", "key": "new", "fingerprint": "f", "created_at": fresh}])
            await conn.execute(insert(webhook_deliveries), [
                _delivery("d_old_ok", "succeeded", old), _delivery("d_old_failed", "failed", old),
                _delivery("d_old_pending", "pending", old), _delivery("d_new_ok", "succeeded", fresh)])
            await conn.execute(insert(webhook_attempts), [
                {"delivery_id": "d_old_ok", "number": 1, "attempted_at": old, "duration_ms": 3,
                 "succeeded": True}])

        counts = await container.use_cases.prune_retention()()

        assert counts == {"outbox": 1, "idempotency_keys": 1, "webhook_deliveries": 2}
        async with container.adapters.engine().connect() as conn:
            assert set((await conn.execute(select(outbox.c.id))).scalars()) == {"o_old_pending", "o_new_sent"}
            assert set((await conn.execute(select(idempotency_keys.c.key))).scalars()) == {"new"}
            assert set((await conn.execute(select(webhook_deliveries.c.id))).scalars()) == {
                "d_old_pending", "d_new_ok"}
            assert (await conn.execute(select(func.count()).select_from(webhook_attempts))).scalar() == 0
    finally:
        await container.close()


def test_the_app_lifespan_starts_the_configured_loops(tmp_path: Path) -> None:
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path), "IMAGEGEN_LOOPS": "relay,retention"})
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        container = app.state.container
        names = {t.get_name() for t in container._loops._tasks}
        assert {"loop:relay", "loop:retention"} <= names and "loop:reaper" not in names


def test_auto_loops_depend_on_the_profile_and_unknown_names_are_refused() -> None:
    embedded = Settings.from_env({})
    production = Settings.from_env({"IMAGEGEN_PROFILE": "production", "DATABASE_URL": "postgresql://x"})
    assert resolve_loops(embedded) == {"relay", "reaper", "reconciler", "retention"}
    assert resolve_loops(production) == {"relay", "retention"}
    assert resolve_loops(Settings.from_env({"IMAGEGEN_LOOPS": "none"})) == set()
    with pytest.raises(ConfigError, match="IMAGEGEN_LOOPS: unknown loops"):
        resolve_loops(Settings.from_env({"IMAGEGEN_LOOPS": "relay,bogus"}))


def test_schema_check_counts_dependencies_and_names_what_is_missing() -> None:
    from adapters.persistence.sqlalchemy.migrate import code_heads, missing_revisions

    assert missing_revisions(set()) >= code_heads()
    assert missing_revisions(code_heads()) == set()  # heads imply their ancestors and dependencies
    from_baseline = missing_revisions({"0001_baseline"})
    assert "0001_baseline" not in from_baseline and code_heads() <= from_baseline
    with pytest.raises(ValueError, match="does not know"):
        missing_revisions({"9999_from_newer_code"})
