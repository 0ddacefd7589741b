"""The official `openai` SDK against imagegen's OpenAI-compatible routes (ADR 0035).

    IMAGEGEN_KEY=ig_... python examples/openai_sdk.py
"""

from __future__ import annotations

import base64
import os

import openai

client = openai.OpenAI(base_url=os.environ.get("IMAGEGEN_API", "http://127.0.0.1:8000") + "/v1",
                       api_key=os.environ["IMAGEGEN_KEY"])

try:
    result = client.images.generate(model="local", prompt="a lighthouse", size="256x256",
                                    response_format="b64_json")
    with open("out.png", "wb") as fh:
        fh.write(base64.b64decode(result.data[0].b64_json or ""))
    edited = client.images.edit(image=open("out.png", "rb"), prompt="at night", model="local",
                                size="256x256")
    print(f"generated out.png; edit answered {len(edited.data)} image(s)")
except openai.RateLimitError as exc:
    # When the account runs out of credits: code "insufficient_quota", and the SDK does not
    # retry (x-should-retry: false). Too many requests per minute is a RateLimitError too.
    print(f"refused: {exc.code}")
