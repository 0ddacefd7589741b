"""`imagegen models list|check`, and the same check logged at start by `serve` and `worker`.

The check never blocks a start: it runs as a task, logs one line per missing or deprecated
model (error level for missing ones: jobs for them will fail as model_unavailable), and leaves
its report on the container's board for /readyz.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import structlog

from adapters.image_providers.listing import (
    CheckReport, Endpoints, ModelCheckBoard, ProviderModelListing,
)
from entrypoints.provider_wiring import build_http_client
from entrypoints.settings import Settings

log = structlog.get_logger("imagegen.models")

_tasks: set[asyncio.Task[Any]] = set()


def endpoints(settings: Settings) -> Endpoints:
    """The keys and base URLs the adapters use."""
    return Endpoints(
        openai_key=settings.openai_api_key, openai_base=settings.openai_base_url,
        gemini_key=settings.gemini_api_key, gemini_base=settings.gemini_base_url,
        openrouter_key=settings.openrouter_api_key, openrouter_base=settings.openrouter_base_url,
        replicate_key=settings.replicate_api_token, replicate_base=settings.replicate_base_url,
        fal_key=settings.fal_api_key, fal_queue=settings.fal_queue_url)


async def check_catalog(settings: Settings) -> CheckReport:
    client = build_http_client(settings)
    try:
        return await ProviderModelListing(client, endpoints(settings)).check(settings.models)
    finally:
        await client.aclose()


def start_model_check(settings: Settings, board: ModelCheckBoard) -> None:
    """Check the catalog in the background and log what is missing (never blocks the start)."""

    async def run() -> None:
        try:
            board.report = report = await check_catalog(settings)
        except Exception as exc:  # a check must never take the process down
            log.warning("models.check_failed", error=type(exc).__name__)
            return
        for entry in report.entries:
            if entry.status == "missing":
                log.error("models.missing", model=entry.model, provider=entry.provider,
                          upstream=entry.upstream, detail=entry.detail)
            elif entry.status in ("deprecated", "error"):
                log.warning(f"models.{entry.status}", model=entry.model, provider=entry.provider,
                            shutdown_on=entry.shutdown_on, detail=entry.detail)
        log.info("models.check", summary=report.summary())

    task = asyncio.get_running_loop().create_task(run())
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def _price(spec: Any) -> str:
    dollars = spec.price_micros_per_image / 1_000_000
    return f"${dollars:.3f}/img" + (" +tokens" if spec.token_prices else "")


def _sizes(spec: Any) -> str:
    if spec.size_rule is not None:
        r = spec.size_rule
        return f"any WxH /{r.multiple_of}, {r.min_aspect}..{r.max_aspect}, <={r.max_long}x{r.max_short}"
    return ", ".join(spec.sizes) if spec.sizes else f"any up to {spec.max_pixels} px"


async def models_list(args: argparse.Namespace, settings: Settings) -> int:
    rows = [("MODEL", "PROVIDER", "UPSTREAM", "PRICE", "EDIT", "STATUS", "SIZES")]
    for s in settings.models:
        upstream = s.upstream + (f":{s.upstream_version[:12]}" if s.upstream_version else "")
        status = s.status + (f" (shutdown {s.shutdown_on})" if s.shutdown_on else "")
        rows.append((s.name, s.provider, upstream, f"{s.credits_per_image} cr, {_price(s)}",
                     "yes" if s.supports_edit else "no", status, _sizes(s)))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[6])
    return 0


async def models_check(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 1 when a configured model is missing (or its listing could not be read)."""
    report = await check_catalog(settings)
    for e in report.entries:
        extra = f" shutdown {e.shutdown_on}" if e.shutdown_on else ""
        print(f"{e.model:34} {e.provider:11} {e.upstream:40} {e.status}{extra}"
              + (f" ({e.detail})" if e.detail else ""))
    if report.missing:
        print(f"missing: {', '.join(report.missing)}")
        return 1
    if report.failed:
        print(f"could not check: {', '.join(report.failed)}")
        return 1
    print("every configured model is available")
    return 0
