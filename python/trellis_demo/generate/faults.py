"""Lines ingest must quarantine: one defect each, so its reason is unambiguous.

Every broken record uses fresh ids, so it never collides with a valid one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from trellis.ingest.contract import REASONS, checked_reasons
from trellis_demo.generate.builder import Generator, rfc3339

REQUEST_REASONS = checked_reasons("requests")
FEEDBACK_REASONS = checked_reasons("feedback")
# Every reason code ingest can give, in its order (truth/ingest.json lists them all).
ALL_REASONS = REASONS
_BAD_TIMESTAMPS = ("not a timestamp", "2026-02-30T10:00:00Z", "2026-01-05T25:00:00Z")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(value: Any) -> str:
    """Compact JSON, as a gateway writes it."""
    return _ENCODER.encode(value)


def _request(gen: Generator, created_ms: int) -> dict[str, Any]:
    tenant = gen.rng.choice(gen.tenants).tenant_id
    return {
        "request_id": gen.new_id("req_"),
        "created_at": rfc3339(created_ms),
        "tenant_id": tenant,
        "agent_id": "chat-ui",
        "model": "gpt-4o-mini",
        "request": {"messages": [{"role": "user", "content": "hello"}]},
        "response": {
            "id": "chatcmpl-x",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "hi"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 9, "completion_tokens": 2},
        },
        "status": "success",
    }


def broken_request(gen: Generator, reason: str, created_ms: int) -> str:
    """One request line that breaks the contract for `reason` only."""
    rng = gen.rng
    record = _request(gen, created_ms)
    variant = rng.randrange(3)
    if reason == "invalid_json":
        return dumps(record)[: -rng.randint(2, 12)]
    if reason == "not_an_object":
        return (dumps([record]), '"request"', "42")[variant]
    if reason == "missing_field":
        del record[("created_at", "model", "request")[variant]]
    elif reason == "wrong_type":
        if variant == 0:
            record["model"] = 4
        elif variant == 1:
            record["request"] = "hello"
        else:
            record["request"]["messages"] = "hello"
    elif reason == "invalid_timestamp":
        record["created_at"] = _BAD_TIMESTAMPS[variant]
    elif reason == "invalid_enum":
        record["status"] = ("exploded", "ok", "done")[variant]
    elif reason == "negative_tokens":
        record["response"]["usage"]["completion_tokens" if variant else "prompt_tokens"] = -7
    elif reason == "out_of_range":
        record[("latency_ms", "ttft_ms", "cost_usd")[variant]] = (-5, -1, -0.01)[variant]
    else:
        raise ValueError(reason)
    return dumps(record)


def broken_feedback(gen: Generator, reason: str, request_id: str, created_ms: int) -> str:
    """One feedback line that breaks the contract for `reason` only."""
    rng = gen.rng
    record: dict[str, Any] = {
        "feedback_id": gen.new_id("fb_"),
        "request_id": request_id,
        "created_at": rfc3339(created_ms),
        "outcome": "success",
        "completion_quality": 7,
        "source": "judge",
    }
    variant = rng.randrange(3)
    edits: dict[str, Callable[[], None]] = {
        "missing_field": lambda: record.pop(("outcome", "request_id", "created_at")[variant]),
        "wrong_type": lambda: record.update(
            completion_quality=("high", [7], {"score": 7})[variant]
        ),
        "invalid_timestamp": lambda: record.update(created_at=_BAD_TIMESTAMPS[variant]),
        "invalid_enum": lambda: record.update(
            (("outcome", "great"), ("source", "robot"), ("outcome", "meh"))[variant : variant + 1]
        ),
        "out_of_range": lambda: record.update(completion_quality=(11, 12.5, -1)[variant]),
    }
    if reason == "invalid_json":
        return dumps(record)[: -rng.randint(2, 12)]
    if reason == "not_an_object":
        return (dumps([record]), '"feedback"', "true")[variant]
    edits[reason]()
    return dumps(record)


def conflicting(record: dict[str, Any]) -> dict[str, Any]:
    """The same id with other content; lineage fields are untouched, so truth
    does not depend on which copy ingest stores first."""
    changed = json.loads(dumps(record))
    metadata = changed.setdefault("metadata", {})
    metadata["log_attempt"] = 2
    if "latency_ms" in changed:
        changed["latency_ms"] = changed["latency_ms"] + 1
    return changed
