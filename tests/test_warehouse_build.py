"""The whole project on both targets, the way a user runs it: generated traffic
ingested by `trellis`, then `dbt seed/build` over every model, unit test and
data test (sources, staging, lineage, agents, costs), and source freshness.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.warehouse import Warehouse, warehouse
from trellis_demo.generate import generate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("traffic")
    generate(out, 1_500, seed=3)
    return out


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(
    request: pytest.FixtureRequest, traffic: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Warehouse, str]]:
    target = request.param
    server = request.getfixturevalue("pg_server") if target == "postgres" else None
    with warehouse(target, tmp_path_factory.mktemp(f"build-{target}"), server) as wh:
        wh.ingest("requests", sorted((traffic / "requests").iterdir()))
        wh.ingest("feedback", sorted((traffic / "feedback").iterdir()))
        yield wh, wh.dbt("build")


def test_dbt_build_runs_every_model_and_test_without_error(built: tuple[Warehouse, str]) -> None:
    _, output = built
    assert "Completed successfully" in output
    assert " ERROR=0 " in output and " SKIP=0 " in output


def test_every_public_mart_has_rows(built: tuple[Warehouse, str]) -> None:
    wh, _ = built
    for mart in (
        "lineage.conversation_branch_nodes",
        "lineage.conversation_sessions",
        "lineage.trajectory_units",
        "lineage.execution_run_records",
        "agents.agent_request_log",
        "agents.agent_confidence_scores",
        "costs.daily_agent_costs",
    ):
        assert wh.query(f"select count(*) from {mart}")[0][0] > 0, mart


def test_quarantined_lines_are_visible_in_the_warehouse(built: tuple[Warehouse, str]) -> None:
    wh, _ = built
    reasons = dict(
        wh.query(
            "select quarantine_reason, count(*) from staging.stg_gateway__quarantine"
            " group by quarantine_reason"
        )
    )
    assert reasons.get("invalid_json", 0) > 0 and reasons.get("conflict", 0) > 0


def test_source_freshness_is_configured_and_passes(built: tuple[Warehouse, str]) -> None:
    wh, _ = built
    output = wh.dbt("source", "freshness")
    assert "freshness of gateway.requests" in output and "PASS" in output


def test_trellis_demo_builds_a_duckdb_warehouse_in_one_command(tmp_path: Path) -> None:
    env = {**os.environ, "TRELLIS_DUCKDB_PATH": str(tmp_path / "demo.duckdb")}
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("trellis")),
            "demo",
            "--requests",
            "800",
            "--out",
            str(tmp_path / "demo-data"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "lineage.conversation_branch_nodes" in result.stdout
    assert "800" in result.stdout
    assert (tmp_path / "demo.duckdb").exists()
