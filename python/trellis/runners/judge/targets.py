"""What a judge reads: trajectories (root-to-leaf paths) or members of response groups,
selected over the lineage marts, with the variables templates can use.

Trajectory variables: trajectory_id, session_key, agent_id, model, messages
(the leaf's context and its reply: the whole conversation), final_reply,
steps (one per node: node_id, model, reply).
Response variables: response_group_id, node_id, agent_id, model, context
(the messages answered), response, group (every member: node_id, model,
response, branch_index).
The feedback record is about the leaf node (trajectory) or the member node (response).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trellis.errors import TrellisError
from trellis.runners.kit.db import Db, placeholders, table_exists
from trellis.runners.kit.nodes import LINEAGE_SCHEMA, load_nodes


@dataclass(frozen=True)
class JudgeTarget:
    kind: str
    target_id: str
    request_id: str
    agent_id: str
    #: The tenant of request_id (a request id is unique within its tenant only).
    tenant_id: str
    variables: Mapping[str, Any]


_FILTERS = {
    "trajectory": ("session_key", "tenant_id", "root_node_id", "leaf_node_id"),
    "response": ("tenant_id", "agent_id", "model", "context_anchor_node_id"),
}


def message_text(message: Mapping[str, Any] | None) -> str:
    if not message:
        return ""
    content = message.get("content")
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _where(kind: str, ids: list[str], where: Mapping[str, Any]) -> tuple[str, list[Any]]:
    id_column = "trajectory_id" if kind == "trajectory" else "response_group_id"
    conditions: list[str] = []
    params: list[Any] = []
    if ids:
        conditions.append(f"{id_column} in ({placeholders(len(ids))})")
        params += ids
    for column in _FILTERS[kind]:
        if column in where:
            values = where[column] if isinstance(where[column], list) else [where[column]]
            conditions.append(f"{column} in ({placeholders(len(values))})")
            params += [str(v) for v in values]
    unknown = set(where) - set(_FILTERS[kind])
    if unknown:
        raise TrellisError(
            f"bad judge manifest: unknown {kind} filter(s): {', '.join(sorted(unknown))}"
        )
    return (" where " + " and ".join(conditions)) if conditions else "", params


def select_targets(
    db: Db, kind: str, ids: list[str], where: Mapping[str, Any], limit: int | None
) -> list[JudgeTarget]:
    table = "trajectory_units" if kind == "trajectory" else "response_branch_records"
    if not table_exists(db, LINEAGE_SCHEMA, table):
        raise TrellisError(
            f"{LINEAGE_SCHEMA}.{table} does not exist on {db.target}: "
            "run `dbt build --select tag:lineage` first"
        )
    clause, params = _where(kind, ids, where)
    if kind == "trajectory":
        sql = (
            "select trajectory_id, leaf_node_id, session_key, node_ids "
            f"from {LINEAGE_SCHEMA}.{table}"
            f"{clause} order by trajectory_id"
        )
    else:
        sql = (
            f"select response_group_id, node_id, branch_index from {LINEAGE_SCHEMA}.{table}"
            f"{clause} order by response_group_id, branch_index"
        )
    if limit:
        sql += " limit ?"
        params.append(limit)
    rows = db.query(sql, params)
    found = {str(r[0]) for r in rows}
    missing = sorted(set(ids) - found)
    if missing:
        raise TrellisError(f"unknown {kind} id(s): {', '.join(missing[:3])}")
    return _trajectories(db, rows) if kind == "trajectory" else _responses(db, rows)


def _node_ids(value: Any) -> list[str]:
    """trajectory_units.node_ids: DuckDB hands its JSON over as text, psycopg parsed."""
    return [str(n) for n in (json.loads(value) if isinstance(value, str | bytes) else value)]


def _trajectories(db: Db, rows: list[tuple[Any, ...]]) -> list[JudgeTarget]:
    paths = {str(r[0]): _node_ids(r[3]) for r in rows}
    nodes = load_nodes(db, [n for path in paths.values() for n in path])
    targets = []
    for trajectory_id, leaf_id, session_key, _ in rows:
        leaf = nodes[str(leaf_id)]
        steps = [
            {"node_id": n, "model": nodes[n].model, "reply": message_text(nodes[n].reply)}
            for n in paths[str(trajectory_id)]
            if n in nodes
        ]
        reply = leaf.reply
        messages = [*leaf.messages, *([reply] if reply else [])]
        targets.append(
            JudgeTarget(
                "trajectory",
                str(trajectory_id),
                leaf.node_id,
                leaf.agent_id,
                leaf.tenant_id,
                {
                    "trajectory_id": str(trajectory_id),
                    "session_key": str(session_key),
                    "agent_id": leaf.agent_id,
                    "model": leaf.model,
                    "messages": messages,
                    "final_reply": message_text(reply),
                    "steps": steps,
                },
            )
        )
    return targets


def _responses(db: Db, rows: list[tuple[Any, ...]]) -> list[JudgeTarget]:
    group_ids = sorted({str(r[0]) for r in rows})
    members: dict[str, list[tuple[int, str]]] = {}
    for start in range(0, len(group_ids), 500):
        chunk = group_ids[start : start + 500]
        for group_id, node_id, index in db.query(
            "select response_group_id, node_id, branch_index "
            f"from {LINEAGE_SCHEMA}.response_branch_records "
            f"where response_group_id in ({placeholders(len(chunk))})",
            chunk,
        ):
            members.setdefault(str(group_id), []).append((int(index), str(node_id)))
    nodes = load_nodes(db, [n for group in members.values() for _, n in group])
    targets = []
    for group_id, node_id, _ in rows:
        node = nodes[str(node_id)]
        group = [
            {
                "node_id": n,
                "model": nodes[n].model,
                "response": message_text(nodes[n].reply),
                "branch_index": i,
            }
            for i, n in sorted(members.get(str(group_id), []))
            if n in nodes
        ]
        targets.append(
            JudgeTarget(
                "response",
                str(group_id),
                node.node_id,
                node.agent_id,
                node.tenant_id,
                {
                    "response_group_id": str(group_id),
                    "node_id": node.node_id,
                    "agent_id": node.agent_id,
                    "model": node.model,
                    "context": node.messages,
                    "response": message_text(node.reply),
                    "group": group,
                },
            )
        )
    return targets
