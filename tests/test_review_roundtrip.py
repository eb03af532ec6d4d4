"""`trellis review export` → a labelling tool → `trellis review import`, as users run it:
the queue built by dbt, exported as Label Studio tasks, JSONL and CSV, answered the
way each tool writes answers, imported back and folded into human_eval_labels."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import evaluation_trees as ev
from tests.support.warehouse import Warehouse, warehouse, write_jsonl

pytestmark = pytest.mark.slow

TRELLIS = str(Path(sys.executable).with_name("trellis"))


def _trellis(wh: Warehouse, *args: str) -> str:
    done = subprocess.run(
        [TRELLIS, *args],
        env={**os.environ, **wh.env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    work = tmp_path_factory.mktemp("review-roundtrip")
    with warehouse("duckdb", work, None) as built:
        built.ingest("requests", [write_jsonl(work / "requests.jsonl", ev.requests())])
        built.ingest(
            "feedback",
            [write_jsonl(work / "feedback.jsonl", [*ev.feedback_records(), *ev.judge_answers()])],
        )
        built.dbt("build", "--select", "tag:lineage")
        built.dbt("build", "--select", "tag:evaluation")
        yield built


def _queue(wh: Warehouse) -> list[str]:
    rows = wh.query(
        "select trajectory_id from evaluation.human_sample_queue order by queue_position"
    )
    return [r[0] for r in rows]


def test_the_queue_is_stratified_uncertain_first_and_the_same_for_a_seed(wh: Warehouse) -> None:
    rows = wh.query(
        "select trajectory_id, uncertainty_score, stratum_rank, uncertainty "
        "from evaluation.human_sample_queue order by queue_position"
    )
    scores = [r[1] for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert len(rows) == len({r[0] for r in rows}) and max(r[2] for r in rows) <= 5
    # hal-1: one judge names hallucination, the other does not
    hal = next(r for r in rows if r[0] == ev.trajectory_id("hal-1"))
    assert "judges_disagree" in hal[3] and hal[1] == scores[0]
    wh.dbt("build", "--select", "human_sample_queue")
    assert [r[0] for r in rows] == _queue(wh)


def test_label_studio_round_trip_lands_in_human_eval_labels(wh: Warehouse, tmp_path: Path) -> None:
    out = tmp_path / "tasks.json"
    printed = _trellis(wh, "review", "export", "--format", "label-studio", str(out))
    tasks = json.loads(out.read_text())
    assert f"wrote {len(tasks)}" in printed
    assert [t["data"]["trajectory_id"] for t in tasks] == _queue(wh)
    assert all(set(t) == {"data"} for t in tasks)
    hal = next(t for t in tasks if t["data"]["request_id"] == "hal-1")
    assert "[user] clean the repo" in hal["data"]["conversation"]
    assert "hallucination (rule)" in hal["data"]["suggested_categories"]
    # Label Studio adds ids and annotations to each task on export
    exported = []
    for number, task in enumerate(tasks[:2], start=1):
        exported.append(
            {
                "id": number,
                "data": task["data"],
                "annotations": [
                    {
                        "id": 100 + number,
                        "completed_by": {"id": 7, "email": "rev@example.com"},
                        "result": [
                            {
                                "from_name": "categories",
                                "to_name": "dialogue",
                                "type": "choices",
                                "value": {"choices": ["hallucination"]},
                            },
                            {
                                "from_name": "quality",
                                "to_name": "dialogue",
                                "type": "number",
                                "value": {"number": 2},
                            },
                        ],
                        "was_cancelled": False,
                        "created_at": "2026-04-03T08:00:00.123456Z",
                        "updated_at": "2026-04-03T08:00:00.123456Z",
                    }
                ],
            }
        )
    answers = tmp_path / "export.json"
    answers.write_text(json.dumps(exported))
    assert "loaded 2" in _trellis(wh, "review", "import", str(answers))
    # the seed the datasets' no_pii_leftover tests read comes along
    wh.dbt("build", "--select", "tag:lineage", "int_human_reviews_parsed+", "deid_detectors")
    reviewed = {t["data"]["trajectory_id"] for t in tasks[:2]}
    rows = wh.query(
        "select trajectory_id, reviewer_id, quality_score from evaluation.human_eval_labels "
        "where category = 'hallucination' and is_assigned"
    )
    assert {(r[0], r[1], r[2]) for r in rows} == {(t, "rev@example.com", 2.0) for t in reviewed}
    assert not reviewed & set(_queue(wh))  # reviewed trajectories leave the queue


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_jsonl_and_csv_exports_come_back_as_reviews(
    wh: Warehouse, tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"tasks.{fmt}"
    _trellis(wh, "review", "export", "--format", fmt, "--limit", "2", str(out))
    if fmt == "jsonl":
        rows: list[dict[str, Any]] = [json.loads(line) for line in out.read_text().splitlines()]
        for row in rows:
            row.update(reviewer_id=f"{fmt}-rev", categories=["overlong"], quality=5)
        rows.append({**rows[0], "quality": "eleven"})
        out.write_text("".join(json.dumps(row) + "\n" for row in rows))
    else:
        with out.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        for row in rows:
            row.update(reviewer_id=f"{fmt}-rev", categories="overlong; underspecified", quality="5")
        rows.append({**rows[0], "categories": "rude"})
        with out.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    printed = _trellis(wh, "review", "import", str(out))
    assert "loaded 2" in printed
    assert ("wrong_type 1" if fmt == "jsonl" else "invalid_enum 1") in printed
    stored = wh.query(
        "select count(*) from raw.feedback where record->>'reviewer_id' = ?", [f"{fmt}-rev"]
    )
    assert stored == [(2,)]


def test_cluster_category_labels_count_each_clusters_labels(wh: Warehouse) -> None:
    members: dict[tuple[str, str], set[str]] = {}
    for view, cluster, trajectory in wh.query(
        "select view, cluster_id, trajectory_id from evaluation.trajectory_clusters"
    ):
        members.setdefault((view, cluster), set()).add(trajectory)
    labels: dict[tuple[str, str], set[str]] = {}
    for trajectory, source, category in wh.query(
        "select trajectory_id, label_source, category from evaluation.trajectory_category_labels"
    ):
        labels.setdefault((source, category), set()).add(trajectory)
    expected = {}
    for (view, cluster), trajectories in members.items():
        for (source, category), labeled in labels.items():
            if trajectories & labeled:
                expected[(view, cluster, source, category)] = len(trajectories & labeled) / len(
                    trajectories
                )
    rows = wh.query(
        "select view, cluster_id, label_source, category, category_share, dominant_category, "
        "dominant_share from evaluation.cluster_category_labels"
    )
    assert {r[:4]: r[4] for r in rows} == pytest.approx(expected)
    for view, cluster, source, _, _, dominant, share in rows:
        shares = {k[3]: v for k, v in expected.items() if k[:3] == (view, cluster, source)}
        assert share == pytest.approx(max(shares.values()))
        assert dominant == min(c for c, v in shares.items() if v == max(shares.values()))
