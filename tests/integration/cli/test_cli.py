"""The `imagegen` command end to end, as a user runs it: a real process on a fresh home."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.integration


def imagegen(home: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IMAGEGEN_HOME": str(home), "IMAGEGEN_LOG_LEVEL": "warning"}
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def balance_of(output: str) -> int:
    return int(re.search(r"balance left: (\d+)", output).group(1))  # type: ignore[union-attr]


def test_generate_writes_a_png_charges_the_estimate_and_the_audit_catches_tampering(tmp_path: Path) -> None:
    home, out = tmp_path / "home", tmp_path / "out"
    first = imagegen(home, "generate", "a lighthouse at dusk", "--size", "640x480", "--out", str(out))
    assert first.returncode == 0, first.stderr
    files = list(out.glob("*.png"))
    assert len(files) == 1 and Image.open(files[0]).size == (640, 480)
    assert Image.open(files[0]).format == "PNG"
    assert "credits charged: 1" in first.stdout and balance_of(first.stdout) == 99

    second = imagegen(home, "generate", "two ships", "--size", "1536x1024", "--n", "2", "--out", str(out))
    assert second.returncode == 0, second.stderr
    assert "credits charged: 4" in second.stdout  # 2 images x ceil(1 x 1.5)
    assert balance_of(second.stdout) == 95

    audit = imagegen(home, "ledger", "audit")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "local: ok" in audit.stdout

    with sqlite3.connect(home / "imagegen.db") as db:
        db.execute("UPDATE ledger_events SET amount = amount + 1000, "
                   "payload = replace(payload, '\"amount\":100', '\"amount\":1100') "
                   "WHERE account_id = 'local' AND version = 1")
    tampered = imagegen(home, "ledger", "audit")
    assert tampered.returncode == 1
    assert "MISMATCH" in tampered.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (["generate", ""], "prompt"),
    (["generate", "p", "--size", "12"], "size"),
    (["generate", "p", "--n", "9"], "n"),
    (["generate", "p", "--model", "nope"], "model"),
    (["generate", "p", "--n", "x"], "--n"),
    (["credits", "grant", "--user", "u", "--amount", "-5"], "amount"),
])
def test_bad_input_exits_2_with_one_line_and_charges_nothing(tmp_path: Path, args, needle) -> None:
    home = tmp_path / "home"
    result = imagegen(home, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines()
             if line.strip() and not line.startswith("imagegen: home ")]  # the path note
    assert len(lines) == 1 and lines[0].startswith("imagegen: error:") and needle in lines[0]
    if (home / "imagegen.db").exists():
        with sqlite3.connect(home / "imagegen.db") as db:
            assert db.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0


def test_insufficient_credits_exits_2_and_keys_can_be_created(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("IMAGEGEN_STARTER_CREDITS", "1")
    poor = imagegen(home, "generate", "p", "--n", "2", "--size", "32x32")
    assert poor.returncode == 2
    assert poor.stderr.strip().splitlines()[-1] == "imagegen: error: insufficient credits: 2 needed, 1 available"
    assert imagegen(home, "credits", "grant", "--user", "local", "--amount", "5").returncode == 0
    rich = imagegen(home, "generate", "p", "--n", "2", "--size", "32x32", "--out", str(tmp_path))
    assert rich.returncode == 0 and balance_of(rich.stdout) == 4
    keys = imagegen(home, "keys", "create", "--user", "carol")
    assert keys.returncode == 0 and keys.stdout.strip().startswith("ig_")
