"""Keep API keys out of what is printed and stored.

An endpoint's error body may echo the request, Authorization header
included (some proxies do). Every error text goes through `scrub` before it
reaches the terminal or `runner.jobs.last_error`: the keys this process sent
are replaced wherever they appear, and so is anything shaped like a bearer
credential or an `sk-...` key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"

_PATTERNS = (
    re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"),
    re.compile(r"(?i)((?:api[-_]?key|authorization|x-api-key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"),
)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without the given secrets or anything that looks like a credential."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return _PATTERNS[2].sub(REDACTED, text)
