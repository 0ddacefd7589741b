"""`imagegen webhooks`: the provider-webhook receiver as its own server process."""

from __future__ import annotations

import argparse

import msgspec

from entrypoints.settings import Settings


async def webhooks(args: argparse.Namespace, settings: Settings) -> int:
    """Serve POST /webhooks/{provider} (and /healthz) with uvicorn until interrupted."""
    import uvicorn

    from entrypoints.webhooks import create_webhooks_app

    settings = msgspec.structs.replace(settings, host=args.host or settings.host,
                                       port=args.port or settings.port)
    app = create_webhooks_app(settings)
    where = f"http://{settings.host}:{settings.port}"
    print(f"imagegen webhook receiver on {where}/webhooks/{{provider}}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port,
                                           log_config=None, lifespan="on"))  # logs via structlog
    await server.serve()
    return 0
