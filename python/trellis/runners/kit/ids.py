"""Deterministic ids: the same manifest, node and variant always give the same ids.

That is what makes a re-run (after a crash or on purpose) do only what is
missing: a task already done is found by id, a record already ingested is a
duplicate no-op.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def stable_id(prefix: str, *parts: Any) -> str:
    digest = hashlib.sha256(canonical_json(list(parts)).encode()).hexdigest()
    return f"{prefix}-{digest[:32]}"
