"""`imagegen worker`: the Dramatiq CLI on `entrypoints.worker` (production profile)."""

from __future__ import annotations

import argparse
import os
import sys

from entrypoints.settings import Settings


def dramatiq_argv(processes: int | None, threads: int | None) -> list[str]:
    """The command line that starts the workers."""
    argv = [sys.executable, "-m", "dramatiq", "entrypoints.worker"]
    if processes:
        argv += ["--processes", str(processes)]
    if threads:
        argv += ["--threads", str(threads)]
    return argv


def worker_metrics_dir() -> str:
    """Where worker processes write their metrics: Dramatiq's Prometheus database folder, so
    its exposition server (port `dramatiq_prom_port`, 9191) serves ours beside its own."""
    import tempfile

    return os.environ.get("dramatiq_prom_db", os.path.join(tempfile.gettempdir(), "dramatiq-prometheus"))


async def worker(args: argparse.Namespace, settings: Settings) -> int:
    """Replace this process with Dramatiq's (it forks the worker processes and forwards signals).

    Returns 2 without starting anything on the embedded profile, whose worker runs in `serve`.
    """
    if settings.profile != "production":
        print("imagegen: error: `worker` needs IMAGEGEN_PROFILE=production "
              "(the embedded profile runs its worker inside `serve`)", file=sys.stderr)
        return 2
    from entrypoints.startup_checks import require_current_schema

    await require_current_schema(settings)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", worker_metrics_dir())  # ADR 0092
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    argv = dramatiq_argv(args.processes, args.threads)
    os.execv(argv[0], argv)
    return 0  # not reached
