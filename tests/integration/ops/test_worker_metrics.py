"""Provider metrics by provider and model, and the worker processes' metrics in multiprocess mode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from entrypoints.cli_worker import worker_metrics_dir
from tests.integration.http.request_helpers import api_with

pytestmark = pytest.mark.integration


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value
            for f in text_string_to_metric_families(text) for s in f.samples if s.name == name}


async def test_provider_calls_are_counted_and_timed_by_provider_model_and_outcome(tmp_path: Path) -> None:
    async with api_with(tmp_path, run_worker=True, metrics_token="t") as api:
        headers = await api.key_for("u", credits=20)
        await api.client.post("/v1/jobs", json={"prompt": "ok", "size": "32x32"}, headers=headers)
        await api.settle()
        text = (await api.client.get("/metrics", headers={"Authorization": "Bearer t"})).text
    calls = samples(text, "imagegen_provider_calls_total")
    assert calls[(("model", "local"), ("outcome", "ok"), ("provider", "local"))] == 1
    durations = samples(text, "imagegen_provider_call_duration_seconds_count")
    assert durations[(("model", "local"), ("provider", "local"))] == 1


async def test_a_failing_provider_is_counted_under_its_error_class(tmp_path: Path) -> None:
    async with api_with(tmp_path, run_worker=True, metrics_token="t", local_failure_rate=1.0) as api:
        headers = await api.key_for("u", credits=20)
        await api.client.post("/v1/jobs", json={"prompt": "bad", "size": "32x32"}, headers=headers)
        await api.settle()
        text = (await api.client.get("/metrics", headers={"Authorization": "Bearer t"})).text
    outcomes = {dict(k)["outcome"] for k in samples(text, "imagegen_provider_calls_total")}
    assert outcomes and "ok" not in outcomes


def test_worker_processes_write_metrics_that_one_exposition_reads(tmp_path: Path) -> None:
    """What `imagegen worker` sets up: PROMETHEUS_MULTIPROC_DIR before the workers import
    prometheus_client, so each process's series land in files Dramatiq's server merges."""
    script = ("from adapters.metrics.prometheus import PrometheusMetrics\n"
              "m = PrometheusMetrics()\n"
              "m.observe_provider_call('openai', 'gpt-image-1', 'ok', 0.5)\n"
              "m.observe_provider_call('openai', 'gpt-image-1', 'rate_limited', 0.1)\n")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    for _ in range(2):  # two worker processes
        subprocess.run([sys.executable, "-c", script], env={**env, "PYTHONPATH": ":".join(sys.path)},
                       check=True, timeout=60)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    calls = samples(generate_latest(registry).decode(), "imagegen_provider_calls_total")
    assert calls[(("model", "gpt-image-1"), ("outcome", "ok"), ("provider", "openai"))] == 2
    assert calls[(("model", "gpt-image-1"), ("outcome", "rate_limited"), ("provider", "openai"))] == 2


def test_the_worker_metrics_folder_is_the_one_dramatiqs_exposition_server_reads() -> None:
    from dramatiq.middleware.prometheus import DB_PATH

    assert worker_metrics_dir() == DB_PATH
