"""Stale nodes: answered by a model snapshot, or cut by a taskification rule, that is
no longer current (seeds/replay_current_versions.csv).

Replay rules: a node served by an old snapshot is regenerated from that
execution onward; a node whose taskification changed regenerates only its
subtree. Both are subtree replays of the topmost stale node of each path:
replaying a node already regenerates everything below it.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from trellis.config import PROJECT_DIR
from trellis.errors import TrellisError
from trellis.runners.kit.db import Db
from trellis.runners.kit.nodes import NODES_TABLE, Node, load_trees, require_mart

CURRENT_VERSIONS_CSV = PROJECT_DIR / "seeds" / "replay_current_versions.csv"


@dataclass(frozen=True)
class CurrentVersions:
    model_snapshots: Mapping[str, str]
    taskification_rule_version: str | None

    @classmethod
    def load(cls, path: Path = CURRENT_VERSIONS_CSV) -> CurrentVersions:
        if not path.exists():
            raise TrellisError(f"{path} is missing: --stale needs the current versions seed")
        snapshots: dict[str, str] = {}
        rule: str | None = None
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["version_kind"] == "model_snapshot":
                    snapshots[row["subject"]] = row["current_version"]
                elif row["version_kind"] == "taskification_rule":
                    rule = row["current_version"]
        return cls(snapshots, rule)

    def stale_reason(self, node: Node) -> str | None:
        current = self.model_snapshots.get(node.model)
        if current and node.served_model and node.served_model != current:
            return f"model snapshot {node.served_model} is not the current {current}"
        version = (node.record.get("metadata") or {}).get("taskification_rule_version")
        if (
            self.taskification_rule_version
            and version
            and str(version) != self.taskification_rule_version
        ):
            return (
                f"taskification rule {version} is not the current {self.taskification_rule_version}"
            )
        return None


def stale_node_ids(db: Db, versions: CurrentVersions, limit: int | None = None) -> list[str]:
    """Topmost stale nodes: no ancestor of theirs is stale too."""
    require_mart(db)
    roots = [
        str(r[0])
        for r in db.query(
            f"select distinct root_node_id from {NODES_TABLE} "
            "where branch_kind <> 'replay' order by 1"
        )
    ]
    selected: list[Node] = []
    for start in range(0, len(roots), 200):
        nodes = load_trees(db, roots[start : start + 200])
        stale = {n.node_id for n in nodes.values() if not n.is_replay and versions.stale_reason(n)}
        for node_id in stale:
            parent = nodes[node_id].parent_node_id
            covered = False
            while parent is not None and parent in nodes:
                if parent in stale:
                    covered = True
                    break
                parent = nodes[parent].parent_node_id
            if not covered:
                selected.append(nodes[node_id])
    selected.sort(key=lambda n: (str(n.created_at), n.node_id))
    ids = [n.node_id for n in selected]
    return ids[:limit] if limit else ids
