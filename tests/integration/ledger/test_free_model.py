"""Issue 8 item 13: a model priced at 0 credits per image works end to end: the reservation of
0 is an ordinary reservation, its capture of 0 settles it, and the audit passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from entrypoints.settings import Settings
from tests.integration.http.conftest import running_api

pytestmark = pytest.mark.integration

CATALOG = """
[[models]]
name = "local"
provider = "local"
credits_per_image = 1

[[models]]
name = "free"
provider = "local"
credits_per_image = 0
max_n = 4
"""


@pytest.fixture
def models_file(tmp_path: Path) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(CATALOG)
    return path


async def test_a_free_model_completes_over_http_charging_nothing(tmp_path: Path,
                                                                 models_file: Path) -> None:
    settings = Settings.from_env({"IMAGEGEN_HOME": str(tmp_path / "home"),
                                  "IMAGEGEN_MODELS_FILE": str(models_file)},
                                 public_base_url="http://testserver.local")
    async with running_api(settings) as api:
        headers = await api.key_for("freeloader")  # no credits at all
        r = await api.client.post("/v1/jobs", json={"prompt": "p", "model": "free",
                                                    "size": "64x64", "n": 2}, headers=headers)
        assert r.status_code == 201, r.text
        await api.settle()
        job = (await api.client.get(f"/v1/jobs/{r.json()['id']}", headers=headers)).json()
        credits = (await api.client.get("/v1/credits", headers=headers)).json()
        report = await api.container.use_cases.audit_ledger()("freeloader")
    assert job["status"] == "completed", job
    assert len(job["images"]) == 2
    assert (job["estimatedCredits"], job["chargedCredits"]) == (0, 0)
    assert (credits["available"], credits["reserved"]) == (0, 0)
    assert report.ok and report.accounts[0].events == 2, report  # reserved 0, captured 0


def test_a_free_model_completes_through_the_cli_and_the_audit_passes(
        tmp_path: Path, models_file: Path) -> None:
    env = {**os.environ, "IMAGEGEN_HOME": str(tmp_path / "home"), "IMAGEGEN_LOG_LEVEL": "warning",
           "IMAGEGEN_MODELS_FILE": str(models_file)}

    def imagegen(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    out = tmp_path / "out"
    generated = imagegen("generate", "a free lighthouse", "--model", "free", "--size", "64x64",
                         "--out", str(out))
    assert generated.returncode == 0, generated.stderr
    assert "credits charged: 0" in generated.stdout, generated.stdout
    assert "balance left: 100" in generated.stdout  # the starter credits are untouched
    assert len(list(out.glob("*.png"))) == 1
    audit = imagegen("ledger", "audit")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "local: ok (3 events)" in audit.stdout  # grant, reserve 0, capture 0
