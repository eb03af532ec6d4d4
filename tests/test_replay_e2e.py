"""End to end: ingest a conversation, build the lineage mart with dbt, replay a node,
build again: the replay is a sibling of the node it replays, with branch kind `replay`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.openai_server import OpenAIServer, running_server
from tests.replay_world import conversation
from tests.support.dbt import run_dbt
from trellis.config import TargetName
from trellis.ingest import ingest_records
from trellis.runners.replay.manifest import parse_manifest
from trellis.runners.replay.service import plan, run_replay
from trellis.storage import open_store

pytestmark = pytest.mark.slow


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with running_server() as srv:
        yield srv


def test_a_replay_folds_into_the_tree_as_a_sibling_of_the_replayed_node(
    target_env: tuple[str, dict[str, str]], server: OpenAIServer, tmp_path: Path
) -> None:
    target: TargetName = target_env[0]  # type: ignore[assignment]
    env = target_env[1]
    with open_store(target) as store:
        ingest_records(store, "requests", conversation(), source="e2e.jsonl")
    run_dbt(["run", "--select", "+tag:lineage"], env, target, tmp_path / "dbt1")
    raw = {
        "nodes": {"ids": ["n-b"]},
        "variants": [{"name": "mini", "model": "gpt-4o-mini", "sampling": {"temperature": 0}}],
        "endpoints": {"default": {"base_url": server.base_url}},
        "run": {"concurrency": 2},
    }
    with open_store(target) as store:
        summary = run_replay(store, plan(store, parse_manifest(raw), raw)).summary
        assert summary.done == 1
    run_dbt(["build", "--select", "+tag:lineage"], env, target, tmp_path / "dbt2")
    with open_store(target) as store:
        rows = store.query(
            "select node_id, parent_node_id, branch_kind, root_node_id "
            "from lineage.conversation_branch_nodes where parent_node_id = 'n-a' "
            "order by created_at"
        )
    kinds = {node_id: (parent, kind, root) for node_id, parent, kind, root in rows}
    replays = [node for node, (_, kind, _) in kinds.items() if kind == "replay"]
    assert len(replays) == 1 and replays[0].startswith("replay-")
    assert kinds[replays[0]][0] == kinds["n-b"][0] == "n-a"
    assert kinds[replays[0]][2] == "n-root"
    assert {"n-b", "n-c"} <= set(kinds)
