"""Suite-wide settings: Hypothesis runs derandomized in CI, so a landing gate is repeatable.

Locally examples stay random (new inputs every run); in CI (`CI` set) the same examples run
every time. Each test's own `@settings` bound (examples, steps) still applies.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")
