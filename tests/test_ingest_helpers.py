"""Builders of contract records and input files for the ingest tests."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from trellis.storage import Store


def request(request_id: str = "req-1", **overrides: Any) -> dict[str, Any]:
    """A valid request record (contract section 1); keyword arguments replace fields."""
    record: dict[str, Any] = {
        "request_id": request_id,
        "created_at": "2026-03-01T12:00:00.250Z",
        "completed_at": "2026-03-01T12:00:01+00:00",
        "tenant_id": "acme",
        "agent_id": "ide-agent",
        "model": "gpt-4o",
        "request": {
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hello?"},
            ],
            "temperature": 0.2,
        },
        "response": {
            "id": f"cmpl-{request_id}",
            "choices": [
                {"message": {"role": "assistant", "content": "Hi."}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": 3,
                "prompt_tokens_details": {"cached_tokens": 0},
            },
        },
        "status": "success",
        "latency_ms": 840,
        "cost_usd": 0.0001,
    }
    record.update(overrides)
    return record


def feedback(feedback_id: str = "fb-1", **overrides: Any) -> dict[str, Any]:
    """A valid feedback record (contract section 2)."""
    record: dict[str, Any] = {
        "feedback_id": feedback_id,
        "request_id": "req-1",
        "created_at": "2026-03-01T12:05:00Z",
        "outcome": "success",
        "completion_quality": 7.5,
        "rating": 1,
        "source": "user",
    }
    record.update(overrides)
    return record


def to_line(item: str | dict[str, Any]) -> str:
    return item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)


def write_jsonl(path: Path, items: Iterable[str | dict[str, Any]]) -> Path:
    path.write_text("".join(to_line(item) + "\n" for item in items), encoding="utf-8")
    return path


def count(store: Store, table: str) -> int:
    return int(store.query(f"select count(*) from raw.{table}")[0][0])


def stored_record(store: Store, table: str, id_column: str, record_id: str) -> dict[str, Any]:
    rows = store.query(
        f"select cast(record as varchar) from raw.{table} where {id_column} = ?", [record_id]
    )
    assert rows, f"{record_id} not stored"
    return json.loads(rows[0][0])  # type: ignore[no-any-return]


def quarantine_by_line(store: Store) -> dict[int, tuple[str, str]]:
    rows = store.query("select source_line, reason, detail from raw.quarantine")
    return {int(line): (reason, detail) for line, reason, detail in rows}
