"""Lineage marts on both targets against the truth: generated traffic whose
true lineage is known, plus hand-written records for each edge case of
contract section 3. The warehouse is built once per target with the command
users run: `dbt build --select tag:lineage`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import lineage_edge_cases as edge
from tests.support.warehouse import Warehouse, read_jsonl, warehouse, write_jsonl
from tests.test_ingest_helpers import feedback
from tests.test_ingest_helpers import request as ingest_request
from trellis_demo.generate import generate

pytestmark = pytest.mark.slow

TRAFFIC_REQUESTS = 2_500
NODE_COLUMNS = (
    "parent_node_id",
    "root_node_id",
    "depth",
    "session_key",
    "branch_kind",
    "is_orphan",
)


@dataclass
class Traffic:
    request_files: list[Path]
    feedback_files: list[Path]
    edge_file: Path
    truth: dict[str, dict[str, Any]]


@dataclass
class Built:
    warehouse: Warehouse
    traffic: Traffic
    nodes: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Traffic:
    out = tmp_path_factory.mktemp("traffic")
    generate(out, TRAFFIC_REQUESTS, seed=23)
    edge_file = write_jsonl(out / "edge-cases.jsonl", edge.records())
    truth = {row["node_id"]: row for row in read_jsonl(out / "truth" / "lineage.jsonl")}
    return Traffic(
        request_files=sorted((out / "requests").iterdir()),
        feedback_files=sorted((out / "feedback").iterdir()),
        edge_file=edge_file,
        truth=truth,
    )


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(
    request: pytest.FixtureRequest, traffic: Traffic, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    target = request.param
    server = request.getfixturevalue("pg_server") if target == "postgres" else None
    with warehouse(target, tmp_path_factory.mktemp(f"lineage-{target}"), server) as wh:
        wh.ingest("requests", [*traffic.request_files, traffic.edge_file])
        wh.ingest("feedback", traffic.feedback_files)
        wh.dbt("build", "--select", "tag:lineage")
        yield Built(wh, traffic, wh.rows_by_id("lineage.conversation_branch_nodes", "node_id"))


def expected_source(truth: dict[str, Any]) -> str:
    """The mart names how a node's parent was found; a root has none."""
    return truth["lineage_source"] if truth["parent_node_id"] is not None else "none"


def test_every_generated_node_lands_where_the_truth_says(built: Built) -> None:
    truth = built.traffic.truth
    missing = sorted(set(truth) - set(built.nodes))
    assert not missing, f"{len(missing)} true nodes are not in the mart, e.g. {missing[:5]}"
    wrong: list[str] = []
    for node_id, want in truth.items():
        got = built.nodes[node_id]
        for column in NODE_COLUMNS:
            if got[column] != want[column]:
                wrong.append(f"{node_id}.{column}: mart {got[column]!r}, truth {want[column]!r}")
        if got["lineage_source"] != expected_source(want):
            wrong.append(f"{node_id}.lineage_source: {got['lineage_source']!r}")
    assert not wrong, f"{len(wrong)} differences, first: " + "; ".join(wrong[:10])


def test_response_groups_hold_exactly_the_siblings_the_truth_groups(built: Built) -> None:
    # First turns included: plain roots of one tenant with one context are
    # regenerated first answers; an orphan root (no truth group) is alone.
    truth = built.traffic.truth
    by_truth: dict[str, set[str]] = {}
    by_mart: dict[str, set[str]] = {}
    for node_id, want in truth.items():
        key = want["response_group_key"] or f"alone {node_id}"
        by_truth.setdefault(key, set()).add(node_id)
        by_mart.setdefault(built.nodes[node_id]["response_group_id"], set()).add(node_id)
    regenerated_first_turns = [
        group
        for group in by_truth.values()
        if len(group) > 1 and all(truth[n]["parent_node_id"] is None for n in group)
    ]
    assert regenerated_first_turns, "the traffic holds no regenerated first answer"
    assert sorted(map(sorted, by_truth.values())) == sorted(map(sorted, by_mart.values()))


def test_response_branch_records_list_every_shared_prompt(built: Built) -> None:
    records = built.warehouse.rows_by_id("lineage.response_branch_records", "node_id")
    group_sizes: dict[str, int] = {}
    for node in built.nodes.values():
        group_sizes[node["response_group_id"]] = group_sizes.get(node["response_group_id"], 0) + 1
    shared = {n for n, node in built.nodes.items() if group_sizes[node["response_group_id"]] > 1}
    assert set(records) == shared
    assert all(r["group_size"] == group_sizes[r["response_group_id"]] for r in records.values())


def test_trajectories_run_from_the_root_to_every_leaf(built: Built) -> None:
    trajectories = built.warehouse.rows_by_id("lineage.trajectory_units", "leaf_node_id")
    leaves = {n for n, node in built.nodes.items() if node["is_leaf"]}
    assert set(trajectories) == leaves
    node_ids_type = built.warehouse.query(
        "select data_type from information_schema.columns where table_schema = 'lineage'"
        " and table_name = 'trajectory_units' and column_name = 'node_ids'"
    )
    assert [(str(t).lower(),) for (t,) in node_ids_type] == [("json",)]
    for leaf, trajectory in trajectories.items():
        path = [leaf]
        while built.nodes[path[-1]]["parent_node_id"] is not None:
            path.append(built.nodes[path[-1]]["parent_node_id"])
        node_ids = trajectory["node_ids"]  # JSON: text from DuckDB, parsed by psycopg
        assert (json.loads(node_ids) if isinstance(node_ids, str) else node_ids) == path[::-1]
        assert trajectory["step_count"] == len(path)


def test_execution_run_records_keep_one_row_per_request(built: Built) -> None:
    count = built.warehouse.query("select count(*) from lineage.execution_run_records")[0][0]
    assert count == len(built.nodes)


def _edge_nodes(built: Built, prefix: str) -> dict[str, dict[str, Any]]:
    chosen = {k: v for k, v in edge.EXPECTED.items() if k.startswith(prefix)}
    assert chosen, prefix
    return {
        node_id: {column: built.nodes[node_id][column] for column in want}
        for node_id, want in chosen.items()
    }


@pytest.mark.parametrize(
    "case",
    ["parts-", "tool-", "tenant-", "cache-", "explicit-", "loop-", "orphan"],
)
def test_edge_case_nodes_land_where_section_3_says(built: Built, case: str) -> None:
    expected = {k: v for k, v in edge.EXPECTED.items() if k.startswith(case)}
    assert _edge_nodes(built, case) == expected


def test_a_1000_turn_agent_loop_logged_newest_first_is_one_chain(built: Built) -> None:
    got = _edge_nodes(built, "deep-")
    assert got == {k: v for k, v in edge.EXPECTED.items() if k.startswith("deep-")}
    leaf = built.warehouse.rows_by_id("lineage.trajectory_units", "leaf_node_id")[
        f"deep-{edge.LOOP_TURNS - 1:04d}"
    ]
    assert leaf["step_count"] == edge.LOOP_TURNS


def test_rebuilding_with_no_new_data_changes_nothing(built: Built) -> None:
    before = {
        mart: built.warehouse.rows_by_id(f"lineage.{mart}", key)
        for mart, key in (
            ("conversation_branch_nodes", "node_id"),
            ("trajectory_units", "leaf_node_id"),
        )
    }
    built.warehouse.dbt("build", "--select", "tag:lineage")
    for mart, key in (
        ("conversation_branch_nodes", "node_id"),
        ("trajectory_units", "leaf_node_id"),
    ):
        assert built.warehouse.rows_by_id(f"lineage.{mart}", key) == before[mart], mart


def test_loading_the_traffic_in_two_halves_gives_the_same_marts(
    built: Built, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # The lines in the order the whole load reads them, cut in the middle: the
    # first occurrence of every id (and so which conflicting copy wins) is the same.
    lines = [
        line
        for path in [*built.traffic.request_files, built.traffic.edge_file]
        for line in _lines(path)
    ]
    middle = len(lines) // 2
    halves = (lines[:middle], lines[middle:])
    server = request.getfixturevalue("pg_server") if built.warehouse.target == "postgres" else None
    with warehouse(built.warehouse.target, tmp_path / "halves", server) as wh:
        for index, lines in enumerate(halves):
            half = tmp_path / f"half-{index}.jsonl"
            half.write_text("".join(lines), encoding="utf-8")
            wh.ingest("requests", [half])
            wh.dbt("build", "--select", "tag:lineage")
        for mart, key in (
            ("conversation_branch_nodes", "node_id"),
            ("trajectory_units", "leaf_node_id"),
            ("conversation_sessions", "session_key"),
        ):
            whole = built.warehouse.rows_by_id(f"lineage.{mart}", key)
            halves_rows = _without_watermark(wh.rows_by_id(f"lineage.{mart}", key))
            whole = _without_watermark(whole)
            differing = {
                k: {
                    c: (v, whole.get(k, {}).get(c))
                    for c, v in row.items()
                    if whole.get(k, {}).get(c) != v
                }
                for k, row in halves_rows.items()
                if row != whole.get(k)
            }
            assert set(halves_rows) == set(whole), mart
            assert not differing, f"{mart}: {list(differing.items())[:3]}"


def _without_watermark(rows: dict[Any, dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    """resolved_at names the ingest batch a row reflects: it differs by design."""
    return {key: {c: v for c, v in row.items() if c != "resolved_at"} for key, row in rows.items()}


def _lines(path: Path) -> list[str]:
    import gzip

    if path.name.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return [line if line.endswith("\n") else line + "\n" for line in handle]
    with path.open(encoding="utf-8") as handle:
        return [line if line.endswith("\n") else line + "\n" for line in handle]


@pytest.mark.parametrize("target", ["duckdb", "postgres"])
def test_a_request_id_two_tenants_use_is_a_node_of_each_tenant(
    target: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Ids are unique per tenant: each tenant's `shared` is its own root, a child
    naming `shared` as parent links within its tenant, one naming it from a third
    tenant is an orphan, and feedback naming globex reaches globex's call only."""
    server = request.getfixturevalue("pg_server") if target == "postgres" else None
    later = {"created_at": "2026-03-01T12:01:00Z", "completed_at": "2026-03-01T12:01:01Z"}
    records = [
        ingest_request("shared", tenant_id="acme", model="gpt-4o"),
        ingest_request("shared", tenant_id="globex", model="o3"),
        ingest_request("child-a", tenant_id="acme", parent_request_id="shared", **later),
        ingest_request("child-g", tenant_id="globex", parent_request_id="shared", **later),
        ingest_request("stray", tenant_id="initech", parent_request_id="shared", **later),
    ]
    rating = feedback("fb-globex", request_id="shared", tenant_id="globex", rating=-1)
    with warehouse(target, tmp_path, server) as wh:  # type: ignore[arg-type]
        report = wh.ingest("requests", [write_jsonl(tmp_path / "r.jsonl", records)])
        wh.ingest("feedback", [write_jsonl(tmp_path / "f.jsonl", [rating])])
        wh.dbt("build", "--select", "tag:lineage", "tag:agents")
        nodes = wh.query(
            "select tenant_id, node_id, parent_node_id, root_node_id, depth, is_orphan"
            " from lineage.conversation_branch_nodes order by 1, 2"
        )
        leaves = wh.query(
            "select tenant_id, leaf_node_id, trajectory_id from lineage.trajectory_units"
        )
        feedback_counts = wh.query(
            "select tenant_id, feedback_count from agents.agent_request_log"
            " where request_id = 'shared' order by 1"
        )

    assert (report.loaded, report.quarantined) == (5, {})
    assert nodes == [
        ("acme", "child-a", "shared", "shared", 1, False),
        ("acme", "shared", None, "shared", 0, False),
        ("globex", "child-g", "shared", "shared", 1, False),
        ("globex", "shared", None, "shared", 0, False),
        ("initech", "stray", None, "stray", 0, True),
    ]
    assert sorted((tenant, leaf) for tenant, leaf, _ in leaves) == [
        ("acme", "child-a"),
        ("globex", "child-g"),
        ("initech", "stray"),
    ]
    assert len({trajectory_id for _, _, trajectory_id in leaves}) == 3
    assert feedback_counts == [("acme", 0), ("globex", 1)]
