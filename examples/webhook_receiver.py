"""A webhook endpoint for imagegen's job events, verified with the `standardwebhooks` library.

    pip install standardwebhooks
    WEBHOOK_SECRET=whsec_... python examples/webhook_receiver.py 8080

Register it with POST /v1/webhooks/endpoints {"url": "https://your-host/hook"} (https on a public
address; IMAGEGEN_WEBHOOK_ALLOW_HOSTS exempts hosts in development). During a secret rotation
(POST /v1/webhooks/endpoints/{id}/rotate-secret) requests carry two signatures, so the old
and the new secret both verify until the overlap ends: switch WEBHOOK_SECRET at leisure.
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def verify(secret: str, body: bytes, headers: dict[str, str]) -> dict:  # type: ignore[type-arg]
    """The event, if the signature and timestamp check out; raise WebhookVerificationError."""
    return Webhook(secret).verify(body, headers)  # type: ignore[no-any-return]


class Handler(BaseHTTPRequestHandler):
    secret = os.environ.get("WEBHOOK_SECRET", "")

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            event = verify(self.secret, body, {k.lower(): v for k, v in self.headers.items()})
        except WebhookVerificationError as exc:
            self.send_response(401)
            self.end_headers()
            print(f"rejected: {exc}", file=sys.stderr)
            return
        # webhook-id is the same on every retry: a real receiver stores it to ignore repeats
        print(json.dumps({"id": self.headers["webhook-id"], "type": event["type"], "data": event["data"]}))
        self.send_response(204)
        self.end_headers()


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    HTTPServer(("127.0.0.1", port), Handler).serve_forever()
