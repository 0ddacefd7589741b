"""The periodic loops of `serve` and `worker`: a failing step does not end the loop, a full
batch runs again at once, and `stop` ends every loop."""

from __future__ import annotations

import asyncio

import pytest

from entrypoints.background import BATCH, BackgroundLoops
from entrypoints.cli import main
from entrypoints.cli_worker import dramatiq_argv

pytestmark = pytest.mark.unit


async def test_a_loop_survives_a_failing_step_and_stops_when_asked() -> None:
    calls: list[str] = []

    async def step() -> int:
        calls.append("call")
        if len(calls) == 1:
            raise ConnectionError("Redis is down")
        return 0

    loops = BackgroundLoops()
    loops.start("relay", 0.01, step)
    await asyncio.sleep(0.15)
    await loops.stop()
    count = len(calls)
    await asyncio.sleep(0.05)
    assert count >= 3  # it went on after the failure
    assert len(calls) == count  # and stopped


async def test_a_full_batch_is_followed_at_once_by_another_step() -> None:
    sizes = [BATCH, BATCH, 0]
    calls: list[int] = []

    async def step() -> int:
        calls.append(1)
        return sizes.pop(0) if sizes else 0

    loops = BackgroundLoops()
    loops.start("relay", 10.0, step)  # only a full batch can explain a second call in time
    await asyncio.sleep(0.05)
    await loops.stop()
    assert len(calls) == 3


def test_the_worker_command_runs_dramatiq_on_the_worker_module() -> None:
    argv = dramatiq_argv(2, 8)
    assert argv[1:] == ["-m", "dramatiq", "entrypoints.worker", "--processes", "2", "--threads", "8"]


def test_the_worker_command_refuses_the_embedded_profile(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("IMAGEGEN_PROFILE", raising=False)
    assert main(["worker"]) == 2
    assert "IMAGEGEN_PROFILE=production" in capsys.readouterr().err
