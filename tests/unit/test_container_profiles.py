"""Both profiles wire the same adapter names, and `build_container` picks by profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.container import EmbeddedAdapters, ProductionAdapters, build_container
from entrypoints.settings import Settings

pytestmark = pytest.mark.unit


def test_production_and_embedded_adapters_expose_identical_provider_names() -> None:
    assert set(ProductionAdapters.providers) == set(EmbeddedAdapters.providers)
    assert {"engine", "uow", "storage", "image_providers", "inspector", "queue",
            "publisher"} <= set(ProductionAdapters.providers)


def test_build_container_wires_the_production_profile_on_postgres_and_dramatiq(tmp_path: Path) -> None:
    settings = Settings.from_env({"IMAGEGEN_PROFILE": "production",
                                  "DATABASE_URL": "postgresql://u@127.0.0.1:1/db",
                                  "REDIS_URL": "redis://127.0.0.1:1/0",
                                  "IMAGEGEN_DB_POOL_SIZE": "7", "IMAGEGEN_QUEUE_NAME": "q1",
                                  "IMAGEGEN_LEDGER_KEY": "k" * 32},
                                 home=tmp_path)
    container = build_container(settings)
    engine, queue = container.adapters.engine(), container.adapters.queue()
    assert (engine.dialect.name, engine.pool.size()) == ("postgresql", 7)
    assert (type(queue).__name__, queue.queue_name) == ("DramatiqTaskQueue", "q1")


def test_the_production_profile_refuses_to_start_without_a_database_url(tmp_path: Path) -> None:
    settings = Settings.from_env({"IMAGEGEN_PROFILE": "production",
                                  "IMAGEGEN_LEDGER_KEY": "k" * 32}, home=tmp_path)
    with pytest.raises(ValueError, match="DATABASE_URL"):
        build_container(settings).adapters.engine()


def test_the_production_profile_refuses_to_start_without_a_ledger_key(tmp_path: Path) -> None:
    settings = Settings.from_env({"IMAGEGEN_PROFILE": "production",
                                  "DATABASE_URL": "postgresql://u@127.0.0.1:1/db"}, home=tmp_path)
    with pytest.raises(ValueError, match="IMAGEGEN_LEDGER_KEY"):
        build_container(settings)


def test_the_embedded_profile_generates_its_ledger_key_beside_the_signing_key(tmp_path: Path) -> None:
    container = build_container(Settings.from_env({}, home=tmp_path))
    key_file = tmp_path / "ledger.key"
    assert (key_file.stat().st_mode & 0o777) == 0o600
    assert container.settings.ledger_key == key_file.read_text().strip().encode()
    assert len(container.settings.ledger_key) == 64
    again = build_container(Settings.from_env({}, home=tmp_path))
    assert again.settings.ledger_key == container.settings.ledger_key


def test_build_container_keeps_the_embedded_profile_on_sqlite(tmp_path: Path) -> None:
    container = build_container(Settings.from_env({}, home=tmp_path))
    assert container.adapters.engine().dialect.name == "sqlite"
    assert type(container.adapters.queue()).__name__ == "InProcessTaskQueue"
