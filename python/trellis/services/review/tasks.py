"""Review tasks: the rows of evaluation.human_sample_queue with what a reviewer reads.

One task per queued trajectory. Its fields (the same in every format):

    task_id, trajectory_id, request_id (the leaf call the review is about),
    tenant_id, agent_id, cluster_id, stratum_category, uncertainty,
    conversation (the whole conversation as text), dialogue (the same as a
    list of {author, text}, for Label Studio's Paragraphs tag),
    suggested_categories (rule and model labels, "category (source)"),
    answer_a_request_id, answer_a (the leaf's reply), answer_b_request_id,
    answer_b (a sibling answer of the same response group, when one exists:
    the pairwise question; empty otherwise).

Label Studio's task import is a JSON list of {"data": {...}}; the JSONL and
CSV exports are the same fields flat, plus the empty answer columns the
reviewer fills in (reviewer_id, categories, quality, pairwise_choice, comment).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trellis.errors import TrellisError
from trellis.services.judge.targets import message_text, select_targets
from trellis.services.replay.db import Db, placeholders
from trellis.services.replay.nodes import LINEAGE_SCHEMA, load_nodes, table_exists

EVALUATION_SCHEMA = "evaluation"
QUEUE_TABLE = "human_sample_queue"
FORMATS = ("label-studio", "jsonl", "csv")
#: The columns a reviewer fills in, in the JSONL and CSV exports.
ANSWER_FIELDS = ("reviewer_id", "categories", "quality", "pairwise_choice", "comment")
TASK_FIELDS = (
    "task_id",
    "trajectory_id",
    "request_id",
    "tenant_id",
    "agent_id",
    "cluster_id",
    "stratum_category",
    "uncertainty",
    "conversation",
    "suggested_categories",
    "answer_a_request_id",
    "answer_a",
    "answer_b_request_id",
    "answer_b",
)


def queued_tasks(db: Db, limit: int | None = None) -> list[dict[str, Any]]:
    """The queue's rows in queue order, each with its conversation and pairwise question."""
    if not table_exists(db, EVALUATION_SCHEMA, QUEUE_TABLE):
        raise TrellisError(
            f"{EVALUATION_SCHEMA}.{QUEUE_TABLE} does not exist on {db.target}: "
            "run `dbt build --select tag:evaluation` first"
        )
    sql = (
        "select trajectory_id, leaf_node_id, tenant_id, agent_id, cluster_id, "
        "stratum_category, uncertainty "
        f"from {EVALUATION_SCHEMA}.{QUEUE_TABLE} order by queue_position"
    )
    params: list[Any] = []
    if limit:
        sql += " limit ?"
        params.append(limit)
    rows = db.query(sql, params)
    if not rows:
        return []
    ids = [str(row[0]) for row in rows]
    targets = {t.target_id: t for t in select_targets(db, "trajectory", ids, {}, None)}
    suggested = _suggested(db, ids)
    siblings = _siblings(db, [str(row[1]) for row in rows])
    tasks = []
    for trajectory_id, leaf, tenant, agent, cluster, category, uncertainty in rows:
        target = targets[str(trajectory_id)]
        messages = target.variables["messages"]
        sibling = siblings.get(str(leaf))
        tasks.append(
            {
                "task_id": str(trajectory_id),
                "trajectory_id": str(trajectory_id),
                "request_id": str(leaf),
                "tenant_id": tenant,
                "agent_id": agent,
                "cluster_id": cluster,
                "stratum_category": category,
                "uncertainty": uncertainty,
                "conversation": "\n\n".join(f"[{m['role']}] {message_text(m)}" for m in messages),
                "dialogue": [{"author": m["role"], "text": message_text(m)} for m in messages],
                "suggested_categories": ", ".join(suggested.get(str(trajectory_id), [])),
                "answer_a_request_id": str(leaf),
                "answer_a": target.variables["final_reply"],
                "answer_b_request_id": sibling[0] if sibling else "",
                "answer_b": sibling[1] if sibling else "",
            }
        )
    return tasks


def _suggested(db: Db, ids: Sequence[str]) -> dict[str, list[str]]:
    if not table_exists(db, EVALUATION_SCHEMA, "trajectory_category_labels"):
        return {}
    found: dict[str, list[str]] = {}
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        for trajectory_id, category, source in db.query(
            "select trajectory_id, category, label_source "
            f"from {EVALUATION_SCHEMA}.trajectory_category_labels "
            f"where trajectory_id in ({placeholders(len(chunk))}) "
            "order by trajectory_id, category, label_source",
            chunk,
        ):
            found.setdefault(str(trajectory_id), []).append(f"{category} ({source})")
    return found


def _siblings(db: Db, leaves: Sequence[str]) -> dict[str, tuple[str, str]]:
    """For each leaf in a response group: its first other member and that member's reply."""
    pairs: dict[str, str] = {}
    for start in range(0, len(leaves), 500):
        chunk = list(leaves[start : start + 500])
        for leaf, other in db.query(
            "select mine.node_id, other.node_id "
            f"from {LINEAGE_SCHEMA}.response_branch_records as mine "
            f"inner join {LINEAGE_SCHEMA}.response_branch_records as other "
            "on mine.response_group_id = other.response_group_id "
            "and mine.node_id != other.node_id "
            f"where mine.node_id in ({placeholders(len(chunk))}) "
            "order by mine.node_id, other.branch_index desc",
            chunk,
        ):
            pairs[str(leaf)] = str(other)
    nodes = load_nodes(db, list(pairs.values()))
    return {
        leaf: (other, message_text(nodes[other].reply))
        for leaf, other in pairs.items()
        if other in nodes
    }


def write_tasks(tasks: Sequence[Mapping[str, Any]], fmt: str, out: Path) -> None:
    """Write the tasks in one of FORMATS."""
    if fmt not in FORMATS:
        raise TrellisError(f"unknown review format {fmt!r}: choose {', '.join(FORMATS)}")
    try:
        if fmt == "label-studio":
            payload = [{"data": dict(task)} for task in tasks]
            out.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", "utf-8")
        elif fmt == "jsonl":
            with out.open("w", encoding="utf-8") as handle:
                for task in tasks:
                    row = {name: task[name] for name in TASK_FIELDS}
                    row.update({name: None for name in ANSWER_FIELDS})
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            with out.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=[*TASK_FIELDS, *ANSWER_FIELDS])
                writer.writeheader()
                for task in tasks:
                    writer.writerow({name: task[name] for name in TASK_FIELDS})
    except OSError as exc:
        raise TrellisError(f"cannot write {out}: {exc.strerror}") from None
