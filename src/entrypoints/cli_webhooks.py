"""`imagegen webhooks`: the provider-webhook receiver as its own server process."""

from __future__ import annotations

import argparse

import msgspec

from entrypoints.settings import Settings


async def webhooks(args: argparse.Namespace, settings: Settings) -> int:
    """Serve POST /webhooks/{provider} (and /healthz) until interrupted, through the API's
    server (uvloop, httptools, header and body read timeouts; ADR 0060, 0058)."""
    import uvicorn

    from entrypoints.http.server import server_config
    from entrypoints.webhooks import create_webhooks_app

    settings = msgspec.structs.replace(settings, host=args.host or settings.host,
                                       port=args.port or settings.port)
    app = create_webhooks_app(settings)
    where = f"http://{settings.host}:{settings.port}"
    print(f"imagegen webhook receiver on {where}/webhooks/{{provider}}", flush=True)
    server = uvicorn.Server(server_config(app, settings))  # logs via structlog too
    await server.serve()
    return 0
