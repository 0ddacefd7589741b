"""A fake OpenAI Images upstream (raw ASGI): every POST */images/generations answers one image.

The image is a 1024x1024 PNG with some structure (a Mandelbrot set over a gradient), built once
at start-up, so its base64 is about as large as a real picture's (1.36 MB of PNG, 1.8 MB of JSON).
"""

from __future__ import annotations

import base64
import io
import time

import msgspec
from PIL import Image


def _png() -> bytes:
    mandel = Image.effect_mandelbrot((1024, 1024), (-2.0, -1.25, 0.75, 1.25), 64)
    gradient = Image.linear_gradient("L").resize((1024, 1024))
    noise = Image.effect_noise((1024, 1024), 24)
    buffer = io.BytesIO()
    Image.merge("RGB", (mandel, gradient, noise)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()
BODY = msgspec.json.encode({"created": int(time.time()), "data": [
    {"b64_json": base64.b64encode(PNG).decode(), "revised_prompt": None}],
    "usage": {"input_tokens": 10, "input_tokens_details": {"text_tokens": 10, "image_tokens": 0},
              "output_tokens": 4160}})
MODELS = msgspec.json.encode({"object": "list", "data": [
    {"id": m, "object": "model", "created": 1764547200, "owned_by": "openai"}
    for m in ("gpt-image-2", "gpt-image-2.5", "gpt-image-2.5-mini")]})
STREAMED = b"event: image_generation.completed\ndata: " + msgspec.json.encode({
    "type": "image_generation.completed", "b64_json": base64.b64encode(PNG).decode(),
    "created_at": 1764547200, "size": "1024x1024", "quality": "medium", "background": "opaque",
    "output_format": "png", "usage": {"input_tokens": 10, "output_tokens": 4160,
                                      "input_tokens_details": {"text_tokens": 10, "image_tokens": 0}},
}) + b"\n\n"
HEADERS = [(b"content-type", b"application/json"), (b"x-request-id", b"req_fake")]


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more, body = True, b""
    while more:  # read the request body
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if scope["method"] == "POST" and b'"stream":true' in body.replace(b" ", b""):
        # `stream: true` (+ `partial_images`): Server-Sent Events; the reference allows fewer
        # partial images than asked, so only the `completed` event is sent (its data is the image)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": STREAMED})
        return
    if scope["method"] == "GET" and scope["path"].endswith("/models"):  # `imagegen models check`
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": MODELS})
        return
    ok = scope["method"] == "POST" and scope["path"].endswith("/images/generations")
    await send({"type": "http.response.start", "status": 200 if ok else 404, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY if ok else b"{}"})
