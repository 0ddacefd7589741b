"""The shipped deploy files, checked without Docker: the compose file against the Compose
Specification's JSON schema plus our rules, the Dockerfile's rules, and the dashboard and
alert rules against the metrics the app really exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[3]
COMPOSE = ROOT / "docker-compose.yml"
_VAR = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:[-?])(?P<arg>[^}]*))?\}")

pytestmark = pytest.mark.integration


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?error}` (and `$$`), strictly."""
    def one(m: re.Match[str]) -> str:
        name, op, arg = m["name"], m["op"], m["arg"]
        if env.get(name):
            return env[name]
        if op == ":-":
            return arg
        raise AssertionError(f"{name} is required ({arg}) and missing from .env.example")
    return _VAR.sub(one, text).replace("$$", "$")


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(interpolate(COMPOSE.read_text(), env_example()))


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    schema = json.loads((ROOT / "tests/fixtures/compose/compose-spec.json").read_text())
    jsonschema.validate(compose(), schema)


def test_compose_publishes_only_loopback_ports_and_commits_no_credentials() -> None:
    doc = compose()
    for name, service in doc["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
    raw = yaml.safe_load(COMPOSE.read_text())  # before interpolation
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|ACCESS_KEY", key):
                assert "${" in str(value), (name, key)  # from .env, never written here
        assert "env_file" not in service  # .env feeds interpolation only: no root password inside
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_compose_pins_images_and_gives_long_running_services_healthchecks_and_restarts() -> None:
    doc = compose()
    for name, service in doc["services"].items():
        image = service.get("image", "")
        if "build" not in service:
            assert re.search(r":[\w.-]*\d[\w.-]*$", image) and not image.endswith(":latest"), (name, image)
        if name in ("minio-init", "migrate"):
            continue
        assert service.get("restart") == "unless-stopped", name
        assert "test" in service.get("healthcheck", {}), name


def test_presigned_urls_point_at_an_endpoint_the_host_can_open() -> None:
    api = compose()["services"]["api"]
    env = api["environment"]
    assert env["IMAGEGEN_S3_ENDPOINT_URL"] == "http://minio:9000"  # inside the network
    assert env["IMAGEGEN_S3_PUBLIC_ENDPOINT_URL"] == "http://localhost:9000"  # what the host resolves
    assert "127.0.0.1:9000:9000" in compose()["services"]["minio"]["ports"]
    assert api["command"] == ["imagegen", "serve"]


def test_the_dockerfile_runs_as_non_root_with_a_healthcheck_and_a_pinned_uv() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert re.search(r"^HEALTHCHECK .*CMD", text, re.M | re.S)
    assert re.search(r"^FROM ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ ", text, re.M)
    assert "--no-editable" in text and "UV_COMPILE_BYTECODE=1" in text
    assert "IMAGEGEN_HOST=0.0.0.0" in text and 'CMD ["imagegen", "serve"]' in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", ".env"} <= set(ignored)


def test_uv_is_left_to_provide_python_outside_ci() -> None:
    assert "python-preference" not in (ROOT / "pyproject.toml").read_text()
    assert (ROOT / ".python-version").read_text().strip() == "3.11"
    assert "UV_PYTHON_PREFERENCE=only-system" in (ROOT / ".ci/run").read_text()


def _metric_names(expr: str) -> set[str]:
    names = set(re.findall(r"\b((?:imagegen|dramatiq)_[a-z_]+)", expr))
    return {re.sub(r"_(bucket|total|count|sum)$", "", n) for n in names}


async def test_the_dashboard_and_alerts_use_metrics_the_app_exposes(tmp_path: Path) -> None:
    from tests.integration.http.request_helpers import api_with

    async with api_with(tmp_path, run_worker=True, metrics_token="t") as api:
        headers = await api.key_for("dash", credits=5)
        await api.client.post("/v1/jobs", json={"prompt": "p", "size": "32x32"}, headers=headers)
        await api.settle()
        scrape = (await api.client.get("/metrics", headers={"Authorization": "Bearer t"})).text
    exposed = {f.name for f in text_string_to_metric_families(scrape)}
    dashboard = json.loads((ROOT / "deploy/grafana/imagegen-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    alerts = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    rules = [r for g in alerts["groups"] for r in g["rules"]]
    assert {"ImagegenHighErrorRate", "ImagegenQueueStuck", "ImagegenReservationTooOld",
            "ImagegenProviderFailures"} <= {r["alert"] for r in rules}
    for expr in exprs + [r["expr"] for r in rules]:
        for name in _metric_names(expr):
            assert name.startswith("dramatiq_") or name in exposed, (name, expr)
