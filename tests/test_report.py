"""`trellis report` end to end: a real warehouse, the real command, the page opened
in headless Chromium (DevTools protocol) with its console and network watched.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.analytics_world import judged_world
from tests.support.browser import chromium_binary, visit
from tests.support.warehouse import Warehouse, warehouse, write_jsonl
from trellis_demo.generate import generate

pytestmark = pytest.mark.slow

TRELLIS = str(Path(sys.executable).with_name("trellis"))
SECTIONS = ("costs", "confidence", "latency", "trees", "clusters", "agreement", "variants")
#: Per chart figure: how many marks its SVG drew (vl-convert puts them under .role-mark).
COUNT_MARKS = """Array.from(document.querySelectorAll('figure.chart')).map(
    f => f.querySelectorAll('svg .role-mark > *').length)"""


def run_report(target: str, env: dict[str, str], out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRELLIS, "report", "--target", target, "--out", str(out)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def browser() -> str:
    binary = chromium_binary()
    if binary is None:
        pytest.fail("no chromium on PATH: .ci/run installs the Debian package `chromium`")
    return binary


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    """Generated traffic plus a judged replay cohort, every model built (DuckDB)."""
    work = tmp_path_factory.mktemp("report-demo")
    traffic = work / "traffic"
    generate(traffic, 1_500, seed=5)
    requests, feedback = judged_world(nodes=12)
    with warehouse("duckdb", work, None) as wh:
        wh.ingest("requests", [*sorted((traffic / "requests").iterdir())])
        wh.ingest("requests", [write_jsonl(work / "judged_requests.jsonl", requests)])
        wh.ingest("feedback", [*sorted((traffic / "feedback").iterdir())])
        wh.ingest("feedback", [write_jsonl(work / "judged_feedback.jsonl", feedback)])
        wh.dbt("build")
        yield wh


def test_report_on_an_empty_warehouse_says_what_to_build(
    target_env: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    target, env = target_env
    out = tmp_path / "empty.html"
    result = run_report(target, env, out)
    assert result.returncode == 0, result.stderr
    assert "0 charts in 7 sections" in result.stdout
    html = out.read_text()
    for key in SECTIONS:
        assert f'<section id="{key}" data-empty="true">' in html
    assert "Not built yet: costs.daily_agent_costs" in html
    assert "dbt build --select tag:analytics" in html
    visited = visit(browser(), out, COUNT_MARKS, tmp_path / "empty.png")
    assert visited.errors == [] and visited.evaluated == []


def test_report_of_a_demo_warehouse_draws_every_chart_offline(
    demo_warehouse: Warehouse, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    result = run_report("duckdb", demo_warehouse.env, out)
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    # self-contained: no script, stylesheet or image fetched from anywhere
    assert not re.search(r"<script|<link|<img|src=|https?://(?!www\.w3\.org)", html)
    # `dbt build` on DuckDB builds the evaluation marts too, so the clusters draw
    for key in ("costs", "confidence", "latency", "trees", "clusters", "agreement", "variants"):
        assert f'<section id="{key}" data-empty="false">' in html, key

    screenshot = tmp_path / "report.png"
    visited = visit(browser(), out, COUNT_MARKS, screenshot)
    assert visited.errors == []
    assert visited.requested_urls == [out.resolve().as_uri()]
    marks = visited.evaluated
    assert len(marks) == html.count('<figure class="chart">') >= 10
    assert all(count > 0 for count in marks), marks
    assert screenshot.stat().st_size > 50_000


def test_report_names_the_winner_and_the_agreement_the_marts_hold(
    demo_warehouse: Warehouse, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    assert run_report("duckdb", demo_warehouse.env, out).returncode == 0
    html = out.read_text()
    winners = demo_warehouse.query(
        "select winner from analytics.variant_comparison where winner is not null"
    )
    assert winners and all(f"{w} wins" in html for (w,) in winners)
    kappa = demo_warehouse.query(
        "select weighted_kappa from analytics.evaluator_agreement "
        "where rater_a = 'gpt-4o' and rater_b = 'gpt-4o-mini'"
    )[0][0]
    assert f"<td>{round(kappa, 4)}</td>" in html


def test_an_unknown_target_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    result = run_report("oracle", {}, tmp_path / "r.html")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "trellis: error: unknown target 'oracle': choose duckdb or postgres"
    )


def test_clusters_are_projected_once_the_evaluation_marts_exist(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    """The evaluation marts come from another layer: stand-ins with their documented
    columns (trajectory_clusters: trajectory_id, view, cluster_id; embeddings: a vector)."""
    import duckdb

    with duckdb.connect(duckdb_env["TRELLIS_DUCKDB_PATH"]) as conn:
        conn.execute("create schema evaluation")
        conn.execute(
            "create table evaluation.trajectory_clusters as "
            "select 't' || i as trajectory_id, 'task' as view, i % 3 as cluster_id "
            "from range(60) as r(i)"
        )
        conn.execute(
            "create table evaluation.trajectory_embeddings as "
            "select 't' || i as trajectory_id, 'task' as view, "
            "[cast(i % 3 as float), cast(i % 7 as float) / 7, cast(i as float) / 60] as embedding "
            "from range(60) as r(i)"
        )
        conn.execute(
            "create table evaluation.trajectory_cluster_summaries as "
            "select 0 as cluster_id, 20 as size, 'refund <order>' as top_terms"
        )
    out = tmp_path / "clusters.html"
    assert run_report("duckdb", duckdb_env, out).returncode == 0
    html = out.read_text()
    assert '<section id="clusters" data-empty="false">' in html
    assert "<td>refund &lt;order&gt;</td>" in html  # table cells are escaped
    assert "evaluation.cluster_category_labels is not built yet" in html
    visited = visit(browser(), out, COUNT_MARKS, tmp_path / "clusters.png")
    assert visited.errors == [] and visited.evaluated == [60]
