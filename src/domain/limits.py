"""Bounds on every client input (ADR 0080), in one place so the README's Limits section and the
checks cannot drift apart. Pure constants: the HTTP schemas, the use cases and the tests read them.
"""

from __future__ import annotations

#: Largest seed a job accepts (Postgres BIGINT; the providers take 32- or 64-bit seeds).
MAX_SEED = 2**63 - 1
#: Largest single credit grant, and the largest balance an account may reach by grants.
MAX_GRANT = 10**12
MAX_BALANCE = 10**15
#: Client-chosen identifiers (projectId, ids in bodies and paths): length and alphabet.
MAX_ID_LENGTH = 64
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]*$"
#: Free text (prompts, descriptions): no NUL or other control characters except tab and newlines.
TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
#: One-line strings (sizes, model names, plans, URLs, event types): no control character at all.
LINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
MAX_PROMPT_CHARS = 32_000  # the hard cap; each model's own (smaller) limit is checked after
MAX_LINE_CHARS = 2048
#: Input images of one edit (deduplicated first), and uploaded files in one OpenAI edit request.
MAX_INPUT_IMAGES = 16
#: Pixels of one uploaded input image, and of all the inputs of one edit (read from the headers
#: before any pixel is decoded: sixteen 40-megapixel PNGs in 2.4 MB once cost 11 s of CPU).
MAX_INPUT_PIXELS = 4096 * 4096
MAX_EDIT_PIXELS = 4 * 4096 * 4096
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
#: JSON nesting depth and the longest array of any request body.
MAX_JSON_DEPTH = 32
MAX_ARRAY_ITEMS = 64
#: Event types one webhook endpoint may list.
MAX_EVENT_TYPES = 16


def dedupe(ids: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`ids` without repeats, first occurrence first."""
    return tuple(dict.fromkeys(ids))
