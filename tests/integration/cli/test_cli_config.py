"""Start-up and configuration through the real `imagegen` entry point: one line, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def imagegen(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGEGEN_", "DATABASE_URL"))}
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args],
                          env={**base, "IMAGEGEN_LOG_LEVEL": "warning", **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def only_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines()
             if line.strip() and not line.startswith("imagegen: home ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(("env", "variable"), [
    ({"IMAGEGEN_PORT": "abc"}, "IMAGEGEN_PORT: expected a whole number, got 'abc'"),
    ({"IMAGEGEN_PROFILE": "prod"}, "IMAGEGEN_PROFILE: expected one of embedded, production"),
    ({"IMAGEGEN_LOCAL_FAILURE_RATE": "often"}, "IMAGEGEN_LOCAL_FAILURE_RATE: expected a number"),
    ({"IMAGEGEN_CLOUDFRONT_SIGNED": "maybe"}, "IMAGEGEN_CLOUDFRONT_SIGNED:"),
    ({"IMAGEGEN_MODELS_FILE": "/nonexistent.toml"}, "IMAGEGEN_MODELS_FILE: nonexistent.toml"),
    ({"IMAGEGEN_CAPTURE_ON": "nonsense"}, "IMAGEGEN_CAPTURE_ON:"),
])
def test_a_bad_variable_is_one_line_naming_it_and_exit_2(tmp_path: Path, env, variable) -> None:
    result = imagegen("credits", "show", env={"IMAGEGEN_HOME": str(tmp_path), **env})
    assert result.returncode == 2
    assert only_line(result).startswith(f"imagegen: error: {variable}")


def test_production_without_a_database_url_is_one_line(tmp_path: Path) -> None:
    for command in (["migrate"], ["serve"], ["worker"], ["keys", "list"]):
        result = imagegen(*command, env={"IMAGEGEN_PROFILE": "production"})
        assert result.returncode == 2, (command, result.stderr)
        assert only_line(result).startswith("imagegen: error: DATABASE_URL: required"), command


def test_an_unreachable_database_is_one_line_exit_1() -> None:
    result = imagegen("migrate", env={"IMAGEGEN_PROFILE": "production",
                                      "DATABASE_URL": "postgresql://u@127.0.0.1:1/db"})
    assert result.returncode == 1
    assert only_line(result).startswith("imagegen: error: migrate the database:")


def test_migrate_needs_only_the_database_then_serve_and_worker_check_the_schema(tmp_path: Path) -> None:
    env = {"IMAGEGEN_PROFILE": "production", "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
           "IMAGEGEN_LEDGER_KEY": "k" * 32}
    for command in (["serve", "--port", "1"], ["worker"]):
        old = imagegen(*command, env=env)
        assert old.returncode == 2
        line = only_line(old)
        assert line.startswith("imagegen: error: DATABASE_URL: the database schema is out of date")
        assert line.endswith("run imagegen migrate")
    migrated = imagegen("migrate", env=env)  # no IMAGEGEN_S3_BUCKET, no Redis
    assert migrated.returncode == 0, migrated.stderr
    assert "schema is up to date" in migrated.stdout
    serve = imagegen("serve", "--port", "1", env=env)  # schema fine: next missing thing, one line
    assert serve.returncode == 2
    assert only_line(serve).startswith("imagegen: error: IMAGEGEN_S3_BUCKET: required")


def test_generate_on_production_refuses_with_one_line(tmp_path: Path) -> None:
    result = imagegen("generate", "x", env={"IMAGEGEN_PROFILE": "production",
                                            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"})
    assert result.returncode == 2
    assert "`generate` runs on the embedded profile only" in only_line(result)


def test_the_readme_first_command_works_on_a_fresh_machine_from_any_folder(tmp_path: Path) -> None:
    """No IMAGEGEN_HOME: state goes to the XDG data dir, the same from every folder."""
    home, elsewhere = tmp_path / "user", tmp_path / "somewhere"
    elsewhere.mkdir()
    env = {"HOME": str(home), "XDG_DATA_HOME": ""}
    first = imagegen("generate", "a lighthouse at dusk", "--size", "64x64", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    data_dir = home / ".local" / "share" / "imagegen"
    assert f"imagegen: home {data_dir}\n" in first.stderr  # absolute, once
    assert first.stderr.count("imagegen: home ") == 1
    assert (data_dir / "imagegen.db").exists() and not (tmp_path / ".imagegen").exists()
    assert list(tmp_path.glob("*.png"))
    second = imagegen("credits", "show", "--json", env=env, cwd=elsewhere)
    assert second.returncode == 0 and '"available":99' in second.stdout  # the same account
    assert second.stdout.startswith("{")  # the path note is on stderr only


def test_imagegen_home_still_overrides(tmp_path: Path) -> None:
    result = imagegen("credits", "grant", "--user", "x", "--amount", "1", "--create",
                      env={"IMAGEGEN_HOME": str(tmp_path / "h"), "HOME": str(tmp_path / "u")})
    assert result.returncode == 0
    assert (tmp_path / "h" / "imagegen.db").exists() and not (tmp_path / "u").exists()
