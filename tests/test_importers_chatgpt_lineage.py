"""A ChatGPT export rebuilds its conversation tree exactly, from content alone.

The import writes no parent ids (ChatGPT's export has none per call): the
lineage models must find every parent by matching contexts and replies.
"""

from __future__ import annotations

from pathlib import Path

from tests import importer_fixtures as fx
from tests.support.warehouse import warehouse
from trellis.importers import ImportOptions, import_files
from trellis.storage import open_store


def test_chatgpt_import_rebuilds_the_known_conversation_tree(tmp_path: Path) -> None:
    path = fx.chatgpt_conversations(tmp_path / "conversations.json")
    with warehouse("duckdb", tmp_path / "wh", None) as wh:
        with wh._env(), open_store("duckdb") as store:
            import_files(store, "chatgpt", [path], ImportOptions(tenant="me"))
        wh.dbt("build", "--select", "tag:lineage")
        nodes = wh.rows_by_id("lineage.conversation_branch_nodes", "node_id")

    assert {node: row["parent_node_id"] for node, row in nodes.items()} == fx.CHATGPT_TREE
    assert {node: row["branch_kind"] for node, row in nodes.items()} == {
        "a1": "root",
        "a2": "continuation",
        "a2r": "retry",  # a regeneration: same context, same model
        "a2e": "prompt_variant",  # an edited prompt under the same parent
        "a3": "continuation",
    }
    assert nodes["a2"]["response_group_id"] == nodes["a2r"]["response_group_id"]
    assert nodes["a2e"]["response_group_id"] != nodes["a2"]["response_group_id"]
    assert {node: row["depth"] for node, row in nodes.items()} == {
        "a1": 0,
        "a2": 1,
        "a2r": 1,
        "a2e": 1,
        "a3": 2,
    }
    assert {row["root_node_id"] for row in nodes.values()} == {"a1"}
    assert {row["session_key"] for row in nodes.values()} == {"conv-1"}
    assert not any(row["is_orphan"] for row in nodes.values())
    assert {node for node, row in nodes.items() if row["is_leaf"]} == {"a2r", "a2e", "a3"}
