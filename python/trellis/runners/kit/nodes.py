"""Which nodes to replay, and what they looked like: one query over the lineage mart.

The mart (`lineage.conversation_branch_nodes`) gives the tree; the raw
request record gives the frozen context (`request.messages`), the sampling
settings and the session. Replays themselves are never selected again unless
the filter asks for `branch_kind: replay`.

A node id is unique within its tenant only. A run keys its nodes by id, so
the nodes it loads must not hold one id twice: `tenants` narrows a load to
the tenants a selection names, and an id found under two tenants anyway is
an error that says to name one (never a silent mix of two tenants' trees).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trellis.config import RAW_SCHEMA
from trellis.errors import TrellisError
from trellis.runners.kit.db import Db, as_json, placeholders, table_exists

LINEAGE_SCHEMA = "lineage"
NODES_TABLE = f"{LINEAGE_SCHEMA}.conversation_branch_nodes"

_NODE_COLUMNS = (
    "n.node_id, n.parent_node_id, n.root_node_id, n.tenant_id, n.agent_id, n.model, n.depth, "
    "n.branch_kind, n.created_at, r.record"
)


@dataclass(frozen=True)
class Node:
    node_id: str
    parent_node_id: str | None
    root_node_id: str
    tenant_id: str
    agent_id: str
    model: str
    depth: int
    branch_kind: str
    created_at: Any
    record: Mapping[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.record.get("request", {}).get("messages") or [])

    @property
    def request_params(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in self.record.get("request", {}).items()
            if k not in ("messages", "model")
        }

    @property
    def reply(self) -> dict[str, Any] | None:
        choices = (self.record.get("response") or {}).get("choices") or []
        return choices[0].get("message") if choices else None

    @property
    def completion_tokens(self) -> int | None:
        value = ((self.record.get("response") or {}).get("usage") or {}).get("completion_tokens")
        return value if isinstance(value, int) else None

    @property
    def session_id(self) -> str | None:
        value = self.record.get("session_id")
        return value if isinstance(value, str) else None

    @property
    def served_model(self) -> str | None:
        value = self.record.get("served_model")
        return value if isinstance(value, str) else None

    @property
    def is_replay(self) -> bool:
        return self.branch_kind == "replay" or bool(self.record.get("branch"))


def require_mart(db: Db) -> None:
    if not table_exists(db, LINEAGE_SCHEMA, "conversation_branch_nodes"):
        raise TrellisError(
            f"{NODES_TABLE} does not exist on {db.target}: "
            "run `dbt build --select tag:lineage` first"
        )


def select_node_ids(
    db: Db, ids: Sequence[str], where: Mapping[str, Any], limit: int | None
) -> list[str]:
    """Node ids in creation order. Unknown explicit ids are an error, not a silent skip."""
    require_mart(db)
    conditions: list[str] = []
    params: list[Any] = []
    if ids:
        conditions.append(f"node_id in ({placeholders(len(ids))})")
        params += list(ids)
    for column in ("session_key", "agent_id", "tenant_id", "model", "root_node_id"):
        if column in where:
            values = where[column] if isinstance(where[column], list) else [where[column]]
            conditions.append(f"{column} in ({placeholders(len(values))})")
            params += [str(v) for v in values]
    kinds = where.get("branch_kind")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        conditions.append(f"branch_kind in ({placeholders(len(kinds))})")
        params += [str(k) for k in kinds]
    elif not ids:
        conditions.append("branch_kind <> 'replay'")
    if where.get("leaves_only"):
        conditions.append("is_leaf")
    if "created_from" in where:
        conditions.append("created_at >= ?")
        params.append(_day_start(where["created_from"]))
    if "created_to" in where:
        conditions.append("created_at < ?")
        params.append(_day_start(where["created_to"]) + dt.timedelta(days=1))
    sql = f"select node_id from {NODES_TABLE}"
    if conditions:
        sql += " where " + " and ".join(conditions)
    sql += " order by created_at, node_id"
    if limit:
        sql += " limit ?"
        params.append(limit)
    found = [str(r[0]) for r in db.query(sql, params)]
    if ids:
        missing = sorted(set(ids) - set(found))
        if missing:
            more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
            raise TrellisError(f"unknown node(s): {', '.join(missing[:3])}{more}")
    return found


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _to_node(row: Sequence[Any]) -> Node:
    return Node(
        node_id=str(row[0]),
        parent_node_id=None if row[1] is None else str(row[1]),
        root_node_id=str(row[2]),
        tenant_id=str(row[3]),
        agent_id=str(row[4]),
        model=str(row[5]),
        depth=int(row[6] or 0),
        branch_kind=str(row[7]),
        created_at=row[8],
        record=as_json(row[9]),
    )


def load_nodes(
    db: Db, node_ids: Iterable[str], tenants: Sequence[str] | None = None
) -> dict[str, Node]:
    return _load_where(db, "n.node_id", node_ids, 500, tenants)


def load_trees(
    db: Db, root_ids: Iterable[str], tenants: Sequence[str] | None = None
) -> dict[str, Node]:
    """Every node of the given trees (subtree replays and stale detection walk them)."""
    return _load_where(db, "n.root_node_id", root_ids, 200, tenants)


def _load_where(
    db: Db, column: str, values: Iterable[str], chunk_size: int, tenants: Sequence[str] | None
) -> dict[str, Node]:
    """Nodes whose `column` (an identifier chosen by this module) is one of `values`,
    of `tenants` when given; each with its own tenant's raw record."""
    wanted = list(dict.fromkeys(values))
    tenant_filter = f" and n.tenant_id in ({placeholders(len(tenants))})" if tenants else ""
    nodes: dict[str, Node] = {}
    for start in range(0, len(wanted), chunk_size):
        chunk = wanted[start : start + chunk_size]
        rows = db.query(
            f"select {_NODE_COLUMNS} from {NODES_TABLE} as n "
            f"join {RAW_SCHEMA}.requests as r "
            "on r.request_id = n.node_id and r.tenant_id = n.tenant_id "
            f"where {column} in ({placeholders(len(chunk))}){tenant_filter}",
            [*chunk, *(tenants or [])],
        )
        for node in map(_to_node, rows):
            known = nodes.get(node.node_id)
            if known is not None and known.tenant_id != node.tenant_id:
                raise TrellisError(
                    f"node id {node.node_id!r} is used by tenants {known.tenant_id!r} and "
                    f"{node.tenant_id!r}: select one tenant (where: tenant_id)"
                )
            nodes[node.node_id] = node
    return nodes


def children_map(nodes: Mapping[str, Node]) -> dict[str, list[Node]]:
    children: dict[str, list[Node]] = {}
    for node in nodes.values():
        if node.parent_node_id is not None and not node.is_replay:
            children.setdefault(node.parent_node_id, []).append(node)
    for siblings in children.values():
        siblings.sort(key=lambda n: (str(n.created_at), n.node_id))
    return children
