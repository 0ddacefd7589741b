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


async def worker(args: argparse.Namespace, settings: Settings) -> int:
    """Replace this process with Dramatiq's (it forks the worker processes and forwards signals).

    Returns 2 without starting anything on the embedded profile, whose worker runs in `serve`.
    """
    if settings.profile != "production":
        print("imagegen: error: `worker` needs IMAGEGEN_PROFILE=production "
              "(the embedded profile runs its worker inside `serve`)", file=sys.stderr)
        return 2
    argv = dramatiq_argv(args.processes, args.threads)
    os.execv(argv[0], argv)
    return 0  # not reached
