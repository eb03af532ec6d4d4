"""Category labels, human reviews and preference pairs, on hand-built trees in a real
DuckDB warehouse: records ingested, reviews imported with `trellis review import`,
`dbt build` as users run it. Pairs are checked against an independent Python
computation of the documented scoring rules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests import evaluation_trees as ev
from tests.support.warehouse import Warehouse, warehouse, write_jsonl

pytestmark = pytest.mark.slow

TRELLIS = str(Path(sys.executable).with_name("trellis"))
LABEL_MODELS = [
    "int_request_user_turns_keyed",
    "int_trajectory_steps_described",
    "int_trajectory_tool_calls_listed",
    "int_trajectory_categories_ruled",
    "int_trajectory_categories_judged",
    "trajectory_category_labels",
    "int_response_nodes_scored",
    "candidate_preference_pairs",
    "int_human_reviews_parsed",
    "human_eval_labels",
    "preference_labels",
]


def _pairs_requests() -> list[dict[str, Any]]:
    """Group G1: four regenerated first answers; group G2: two answers to one parent."""
    poem = [ev.user("write a poem")]
    out = [
        ev.request(f"p{i}", 200 + i, poem, ev.said(f"poem {i}"), agent="poet", tools=False)
        for i in (1, 2, 3)
    ]
    out.append(ev.request("p4", 204, poem, None, agent="poet", tools=False, status="error"))
    out.append(ev.request("q0", 210, [ev.user("tell a joke")], ev.said("knock knock"), tools=False))
    follow = [ev.user("tell a joke"), ev.said("knock knock"), ev.user("who is there")]
    out += [
        ev.request(q, 211 + i, follow, ev.said(f"{q}!"), tools=False)
        for i, q in enumerate(("q1", "q2"))
    ]
    return out


def _pairs_feedback() -> list[dict[str, Any]]:
    judge = {"metadata": {"judge_model": "gpt-4o", "target_kind": "response"}}
    return [
        ev.feedback("j-p1", "p1", 300, source="judge", completion_quality=5, **judge),
        ev.feedback("j-p2", "p2", 301, source="judge", completion_quality=9, **judge),
        ev.feedback("j-p3", "p3", 302, source="judge", completion_quality=7, **judge),
        ev.feedback("a-p3", "p3", 303, completion_quality=4),
        ev.feedback("a-q1", "q1", 304, source="user", outcome="user_rejected"),
        ev.feedback("a-q2", "q2", 305, source="user", rating=1),
    ]


def _annotation(
    annotation_id: int, reviewer: Any, updated: str, *results: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    return {
        "id": annotation_id,
        "completed_by": reviewer,
        "result": list(results),
        "was_cancelled": False,
        "ground_truth": False,
        "created_at": updated,
        "updated_at": updated,
        "lead_time": 12.5,
        **extra,
    }


def _choices(*names: str) -> dict[str, Any]:
    return {
        "from_name": "categories",
        "to_name": "conversation",
        "type": "choices",
        "value": {"choices": list(names)},
    }


def _number(value: Any) -> dict[str, Any]:
    return {
        "from_name": "quality",
        "to_name": "conversation",
        "type": "number",
        "value": {"number": value},
    }


def _rating(value: Any) -> dict[str, Any]:
    return {
        "from_name": "quality",
        "to_name": "conversation",
        "type": "rating",
        "value": {"rating": value},
    }


def _task(
    task_id: int, request_id: str | None, *annotations: dict[str, Any], b: str = ""
) -> dict[str, Any]:
    data = {
        "task_id": request_id,
        "trajectory_id": ev.trajectory_id(request_id) if request_id else None,
        "request_id": request_id,
        "tenant_id": ev.TENANT,
        "answer_a_request_id": request_id,
        "answer_b_request_id": b,
        "conversation": "...",
    }
    return {
        "id": task_id,
        "project": 3,
        "data": data,
        "annotations": list(annotations),
        "predictions": [],
    }


def label_studio_export() -> list[dict[str, Any]]:
    """A Label Studio JSON export: good annotations, and rows that cannot be reviews."""
    return [
        _task(
            1,
            "p1",
            _annotation(
                11,
                {"id": 1, "email": "ann@example.com"},
                "2026-04-02T09:00:00Z",
                _choices("overlong"),
                _number(8),
            ),
            _annotation(
                12,
                {"id": 2, "email": "bob@example.com"},
                "2026-04-02T09:05:00Z",
                _choices("overlong", "hallucination"),
                _rating(6),
            ),
            _annotation(
                13,
                3,
                "2026-04-02T09:06:00Z",
                {
                    "from_name": "pairwise",
                    "to_name": "a",
                    "type": "pairwise",
                    "value": {"selected": "right"},
                },
            ),
            _annotation(
                14,
                4,
                "2026-04-02T09:07:00Z",
                {
                    "from_name": "pairwise",
                    "to_name": "conversation",
                    "type": "choices",
                    "value": {"choices": ["A"]},
                },
            ),
            _annotation(15, 5, "2026-04-02T09:08:00Z", _number(9), was_cancelled=True),
            b="p3",
        ),
        _task(
            2,
            "p2",
            _annotation(
                21,
                {"id": 1, "email": "ann@example.com"},
                "2026-04-02T09:00:00Z",
                _choices("tool_misuse"),
                _number(3),
            ),
            _annotation(
                22,
                {"id": 1, "email": "ann@example.com"},
                "2026-04-02T10:00:00Z",
                _choices(),
                _number(4),
            ),
        ),
        # cannot be reviews: no task, a score that is no number, out of range, an
        # unknown category, a pairwise choice that is neither side
        _task(3, None, _annotation(31, 1, "2026-04-02T09:00:00Z", _number(5))),
        _task(4, "p3", _annotation(41, 1, "2026-04-02T09:00:00Z", _number("great"))),
        _task(5, "p3", _annotation(51, 1, "2026-04-02T09:00:00Z", _number(12))),
        _task(6, "p3", _annotation(61, 1, "2026-04-02T09:00:00Z", _choices("rude"))),
        _task(
            7,
            "p3",
            _annotation(
                71,
                1,
                "2026-04-02T09:00:00Z",
                {
                    "from_name": "pairwise",
                    "to_name": "a",
                    "type": "pairwise",
                    "value": {"selected": "middle"},
                },
            ),
            b="p1",
        ),
    ]


@dataclass
class Built:
    warehouse: Warehouse
    import_output: str


def _trellis(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRELLIS, *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    work = tmp_path_factory.mktemp("evaluation-labels")
    with warehouse("duckdb", work, None) as wh:
        wh.ingest(
            "requests", [write_jsonl(work / "requests.jsonl", [*ev.requests(), *_pairs_requests()])]
        )
        wh.ingest(
            "feedback",
            [
                write_jsonl(
                    work / "feedback.jsonl",
                    [*ev.feedback_records(), *ev.judge_answers(), *_pairs_feedback()],
                )
            ],
        )
        export = work / "label-studio-export.json"
        export.write_text(json.dumps(label_studio_export()), encoding="utf-8")
        imported = _trellis(["review", "import", str(export)], wh.env)
        assert imported.returncode == 0, imported.stderr
        wh.dbt("build", "--select", "tag:lineage")
        wh.dbt("build", "--select", *LABEL_MODELS)
        yield Built(wh, imported.stdout)


def _labels(built: Built, source: str) -> dict[tuple[str, str], dict[str, Any]]:
    rows = built.warehouse.query(
        "select trajectory_id, category, confidence, evidence "
        "from evaluation.trajectory_category_labels where label_source = ?",
        [source],
    )
    return {(r[0], r[1]): {"confidence": r[2], "evidence": json.loads(r[3])} for r in rows}


def test_every_rule_labels_exactly_the_trajectories_built_for_it(built: Built) -> None:
    labels = _labels(built, "rule")
    for leaf, categories in ev.EXPECTED_RULES.items():
        got = {
            category for (trajectory, category) in labels if trajectory == ev.trajectory_id(leaf)
        }
        assert got == categories, leaf


def test_rule_labels_name_the_nodes_they_rest_on(built: Built) -> None:
    labels = _labels(built, "rule")
    for (leaf, category), nodes in ev.EXPECTED_EVIDENCE.items():
        label = labels[(ev.trajectory_id(leaf), category)]
        assert label["evidence"]["nodes"] == nodes, (leaf, category)
        assert label["evidence"]["rule"] and label["confidence"] == 1.0


def test_model_labels_average_the_judges_that_answered(built: Built) -> None:
    labels = _labels(built, "model")
    # judge-a names hallucination at 0.8, judge-b names nothing, judge-c did not parse
    assert set(labels) == {(ev.trajectory_id("hal-1"), "hallucination")}
    label = labels[(ev.trajectory_id("hal-1"), "hallucination")]
    assert label["confidence"] == pytest.approx(0.4)
    assert [j["feedback_id"] for j in label["evidence"]["judges"]] == ["judge-a"]


def test_import_loads_reviews_and_quarantines_rows_that_cannot_be_reviews(built: Built) -> None:
    reasons = dict(
        built.warehouse.query(
            "select detail, reason from raw.quarantine "
            "where source_file like '%label-studio-export.json'"
        )
    )
    assert sorted(reasons.values()) == [
        "invalid_enum",
        "invalid_enum",
        "missing_field",
        "out_of_range",
        "wrong_type",
    ]
    assert any("request_id" in detail for detail in reasons)
    assert "cancelled 1" in built.import_output
    humans = built.warehouse.query(
        "select request_id, record->>'reviewer_id', record->>'completion_quality' "
        "from raw.feedback where record->>'source' = 'human' order by 1, 2, 3"
    )
    assert [h[:2] for h in humans] == [
        ("p1", "3"),
        ("p1", "4"),
        ("p1", "ann@example.com"),
        ("p1", "bob@example.com"),
        ("p2", "ann@example.com"),
        ("p2", "ann@example.com"),
    ]


def test_importing_the_same_export_again_adds_nothing(built: Built, tmp_path: Path) -> None:
    export = tmp_path / "again.json"
    export.write_text(json.dumps(label_studio_export()), encoding="utf-8")
    before = built.warehouse.query("select count(*) from raw.feedback")[0][0]
    again = _trellis(["review", "import", str(export)], built.warehouse.env)
    assert again.returncode == 0, again.stderr
    assert "loaded 0" in again.stdout
    assert built.warehouse.query("select count(*) from raw.feedback")[0][0] == before


def test_human_eval_labels_keep_each_reviewers_latest_and_their_agreement(built: Built) -> None:
    rows = built.warehouse.query(
        "select reviewer_id, category, is_assigned, agreement, quality_score "
        "from evaluation.human_eval_labels "
        "where trajectory_id = ? and category in ('overlong', 'hallucination') order by 1, 2",
        [ev.trajectory_id("p1")],
    )
    assert rows == [
        ("ann@example.com", "hallucination", False, 0.5, 8.0),
        ("ann@example.com", "overlong", True, 1.0, 8.0),
        ("bob@example.com", "hallucination", True, 0.5, 6.0),
        ("bob@example.com", "overlong", True, 1.0, 6.0),
    ]
    # ann's later review of p2 assigns nothing: her earlier tool_misuse is superseded
    latest = built.warehouse.query(
        "select distinct quality_score, is_assigned from evaluation.human_eval_labels "
        "where trajectory_id = ?",
        [ev.trajectory_id("p2")],
    )
    assert latest == [(4.0, False)]


def _expected_pairs(built: Built, margin: float = 1.0) -> set[tuple[str, str, str, float, float]]:
    """The documented scores, computed here from the raw facts, paired within each group."""
    wh = built.warehouse
    groups: dict[str, list[str]] = {}
    for group, node in wh.query(
        "select response_group_id, node_id from lineage.response_branch_records"
    ):
        groups.setdefault(group, []).append(node)
    status = dict(wh.query("select request_id, record->>'status' from raw.requests"))
    feedback = [
        json.loads(r[0]) if isinstance(r[0], str) else r[0]
        for r in wh.query("select record from raw.feedback")
    ]
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    gateway: dict[str, list[dict[str, Any]]] = {}
    for fb in feedback:
        source = fb.get("source", "auto")
        if source in ("human", "judge") and fb.get("completion_quality") is not None:
            scorer = fb.get("reviewer_id") or (fb.get("metadata") or {}).get("judge_model") or ""
            key = (fb["request_id"], source, scorer)
            if key not in latest or (fb["created_at"], fb["feedback_id"]) > (
                latest[key]["created_at"],
                latest[key]["feedback_id"],
            ):
                latest[key] = fb
        elif source in ("auto", "user"):
            gateway.setdefault(fb["request_id"], []).append(fb)
    collected: dict[str, dict[str, list[float]]] = {}
    for (node, source, _), fb in latest.items():
        collected.setdefault(node, {}).setdefault(source, []).append(fb["completion_quality"])
    scores = {n: {s: sum(v) / len(v) for s, v in by.items()} for n, by in collected.items()}
    outcome = {"success": 7.0, "fallback": 5.0, "user_rejected": 0.0, "error": 0.0, "timeout": 0.0}
    for members in groups.values():
        for node in members:
            facts = gateway.get(node, [])
            qualities = [
                f["completion_quality"] for f in facts if f.get("completion_quality") is not None
            ]
            ratings = [
                10.0 if f["rating"] == 1 else 0.0 for f in facts if f.get("rating") is not None
            ]
            auto: float | None = None
            if qualities:
                auto = sum(qualities) / len(qualities)
            elif ratings:
                auto = sum(ratings) / len(ratings)
            elif facts:
                auto = outcome.get(max(facts, key=lambda f: f["created_at"])["outcome"])
            elif status.get(node) in ("error", "timeout", "cancelled"):
                auto = 0.0
            if auto is not None:
                scores.setdefault(node, {})["auto"] = auto
    pairs = set()
    for members in groups.values():
        for a in members:
            for b in members:
                if a == b:
                    continue
                shared = [
                    s
                    for s in ("human", "judge", "auto")
                    if s in scores.get(a, {}) and s in scores.get(b, {})
                ]
                if shared and scores[a][shared[0]] - scores[b][shared[0]] >= margin:
                    pairs.add((a, b, shared[0], scores[a][shared[0]], scores[b][shared[0]]))
    return pairs


def test_candidate_pairs_match_an_independent_computation(built: Built) -> None:
    got = set(
        built.warehouse.query(
            "select chosen_node_id, rejected_node_id, preference_source, chosen_score, "
            "rejected_score from evaluation.candidate_preference_pairs"
        )
    )
    expected = _expected_pairs(built)
    assert got == expected
    ours = {(a, b, s) for a, b, s, _, _ in got if a[0] in "pq"}
    # human 7 (mean of 8 and 6) over the latest 4; judges where humans did not score both;
    # the failed first answer loses on automatic outcomes; a thumbs-up beats a rejection
    assert ours == {
        ("p1", "p2", "human"),
        ("p3", "p1", "judge"),
        ("p2", "p3", "judge"),
        ("p3", "p4", "auto"),
        ("q2", "q1", "auto"),
    }


def test_preference_labels_hold_human_choices_and_human_score_pairs(built: Built) -> None:
    rows = built.warehouse.query(
        "select chosen_node_id, rejected_node_id, confirmed_by, feedback_ids, is_contested "
        "from evaluation.preference_labels order by 1, 2"
    )
    by_pair = {(r[0], r[1]): r[2:] for r in rows}
    assert set(by_pair) == {("p1", "p2"), ("p3", "p1"), ("p1", "p3")}
    assert by_pair[("p1", "p2")][0] == "human_scores"
    assert len(json.loads(by_pair[("p1", "p2")][1])) == 3  # ann and bob on p1, ann's latest on p2
    assert by_pair[("p3", "p1")][0] == "pairwise_choice" and by_pair[("p3", "p1")][2]
    assert by_pair[("p1", "p3")][2]
