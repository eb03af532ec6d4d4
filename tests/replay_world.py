"""Small conversation trees for the replay and judge tests, and a stand-in lineage mart.

The stand-in holds the columns of lineage.conversation_branch_nodes the
runners read, computed from explicit parent ids, so the runner tests do not
pay for a dbt build; test_replay_e2e.py runs the real models.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

from trellis.ingest import ingest_records
from trellis.storage import Store

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)


def request(
    request_id: str,
    messages: list[dict[str, Any]],
    reply: str,
    *,
    parent: str | None = None,
    minute: int = 0,
    model: str = "gpt-4o",
    served_model: str | None = None,
    agent_id: str = "ide",
    session_id: str | None = "s1",
    tools: list[Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "request_id": request_id,
        "created_at": (T0 + dt.timedelta(minutes=minute)).isoformat(),
        "tenant_id": "acme",
        "agent_id": agent_id,
        "model": model,
        "request": {
            "messages": messages,
            "temperature": 0.7,
            **({"tools": tools} if tools else {}),
        },
        "response": {
            "id": f"resp-{request_id}",
            "choices": [
                {"message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 10},
        },
    }
    if parent:
        record["parent_request_id"] = parent
    if session_id:
        record["session_id"] = session_id
    if served_model:
        record["served_model"] = served_model
    if metadata:
        record["metadata"] = dict(metadata)
    return record


def conversation() -> list[dict[str, Any]]:
    """root -> a -> (b, c): a tool turn under a, and two follow-ups (an edit) under it."""
    system = {"role": "system", "content": "You are helpful."}
    u0 = {"role": "user", "content": "Plan a trip to Lisbon."}
    root = request(
        "n-root",
        [system, u0],
        "Sure: when?",
        minute=0,
        tools=[{"type": "function", "function": {"name": "search"}}],
    )
    u1 = {"role": "user", "content": "In May, three days."}
    a = request(
        "n-a",
        [system, u0, {"role": "assistant", "content": "Sure: when?"}, u1],
        "Day 1: Alfama.",
        parent="n-root",
        minute=1,
    )
    ctx_a = [*a["request"]["messages"], {"role": "assistant", "content": "Day 1: Alfama."}]
    b = request(
        "n-b",
        [*ctx_a, {"role": "user", "content": "Cheaper please."}],
        "Hostels then.",
        parent="n-a",
        minute=2,
    )
    c = request(
        "n-c",
        [*ctx_a, {"role": "user", "content": "With kids."}],
        "Oceanarium!",
        parent="n-a",
        minute=3,
    )
    return [root, a, b, c]


def many_roots(count: int, prefix: str = "r") -> list[dict[str, Any]]:
    return [
        request(
            f"{prefix}{i:05d}",
            [{"role": "user", "content": f"question {i}"}],
            f"answer {i}",
            minute=i % 600,
            session_id=None,
        )
        for i in range(count)
    ]


def load(store: Store, records: Iterable[Mapping[str, Any]]) -> None:
    """Ingest requests and (re)build the stand-in node mart over everything in raw.requests."""
    records = list(records)
    report = ingest_records(store, "requests", records, source="test")
    assert not report.quarantined, report.quarantined
    build_mart(store)


def build_mart(store: Store) -> None:
    rows = store.query("select request_id, record from raw.requests")
    recs = {str(r[0]): (json.loads(r[1]) if isinstance(r[1], str) else r[1]) for r in rows}
    parents = {i: r.get("parent_request_id") for i, r in recs.items()}
    children: dict[str, int] = {}
    for parent in parents.values():
        if parent:
            children[parent] = children.get(parent, 0) + 1

    def root_and_depth(node_id: str) -> tuple[str, int]:
        depth = 0
        while parents.get(node_id):
            node_id, depth = parents[node_id], depth + 1  # type: ignore[assignment]
        return node_id, depth

    store.execute("create schema if not exists lineage")
    store.execute("drop table if exists lineage.conversation_branch_nodes")
    store.execute(
        "create table lineage.conversation_branch_nodes (node_id varchar, parent_node_id varchar, "
        "root_node_id varchar, session_key varchar, tenant_id varchar, agent_id varchar, "
        "model varchar, depth integer, branch_kind varchar, is_leaf boolean, "
        "created_at timestamptz)"
    )
    for node_id, rec in sorted(recs.items()):
        root, depth = root_and_depth(node_id)
        kind = (rec.get("branch") or {}).get("kind") or ("root" if depth == 0 else "continuation")
        store.execute(
            f"insert into lineage.conversation_branch_nodes values ({', '.join(['?'] * 11)})",
            [
                node_id,
                parents[node_id],
                root,
                recs[root].get("session_id") or root,
                rec.get("tenant_id", "default"),
                rec.get("agent_id", "unknown"),
                rec["model"],
                depth,
                kind,
                node_id not in children,
                dt.datetime.fromisoformat(rec["created_at"]),
            ],
        )


def replay_records(store: Store) -> list[dict[str, Any]]:
    rows = store.query("select record from raw.requests order by request_id")
    records = [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in rows]
    return [r for r in records if (r.get("branch") or {}).get("kind") == "replay"]


def job_counts(store: Store) -> dict[str, int]:
    return {
        str(s): int(n)
        for s, n in store.query("select status, count(*) from runner.jobs group by 1")
    }
