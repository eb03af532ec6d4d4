"""Evaluation analytics marts (`tag:analytics`) end to end, on both targets.

A judged world (tests/analytics_world.py: replays in one cohort, judge feedback
in the judge runner's record format, human scores) goes through the real
ingest and `dbt build --select tag:analytics`; the test recomputes each
statistic independently in Python (scipy, scikit-learn, numpy, a coincidence
matrix for Krippendorff's alpha, hashlib for the bootstrap draws) from the raw
records and compares.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from tests.analytics_world import COHORT, judged_world
from tests.support.warehouse import Warehouse, warehouse, write_jsonl

pytestmark = pytest.mark.slow

REQUESTS, FEEDBACK = judged_world()
REPLAYS = {r["request_id"]: r for r in REQUESTS if r.get("branch")}


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    target = request.param
    server = request.getfixturevalue("pg_server") if target == "postgres" else None
    work = tmp_path_factory.mktemp(f"analytics-{target}")
    with warehouse(target, work, server) as wh:
        wh.ingest("requests", [write_jsonl(work / "requests.jsonl", REQUESTS)])
        wh.ingest("feedback", [write_jsonl(work / "feedback.jsonl", FEEDBACK)])
        wh.dbt("build", "--select", "tag:analytics")
        yield wh


# --- independent computation -------------------------------------------------


def parsed_scores() -> list[dict[str, Any]]:
    """(rater, template, node, cohort, variant, compared node, sample, score) from raw records."""
    rows = []
    for record in FEEDBACK:
        meta = record.get("metadata") or {}
        if record["source"] == "judge":
            score = meta.get("score", record.get("completion_quality"))
            rater, template = meta["judge_model"], meta.get("template_id", "unspecified")
            version = meta.get("template_version")
        else:
            score, rater, template, version = record["completion_quality"], "human", None, None
        if score is None:
            continue
        replay = REPLAYS.get(record["request_id"])
        rows.append(
            {
                "rater": rater,
                "template": template,
                "version": version,
                "node": record["request_id"],
                "cohort": replay["branch"]["cohort_id"] if replay else None,
                "variant": replay["branch"]["variant_config"]["name"] if replay else None,
                "compared": replay["branch"]["replay_of_request_id"]
                if replay
                else record["request_id"],
                "sample": replay["metadata"]["sample_index"] if replay else 0,
                "score": float(score),
            }
        )
    return rows


def rater_values(template: str) -> dict[str, dict[str, float]]:
    """rater -> node -> mean score under the template (human scores count under every template)."""
    cells: dict[tuple[str, str], list[float]] = defaultdict(list)
    judged_nodes = {r["node"] for r in parsed_scores() if r["template"] == template}
    for row in parsed_scores():
        if row["template"] == template or (row["template"] is None and row["node"] in judged_nodes):
            cells[(row["rater"], row["node"])].append(row["score"])
    values: dict[str, dict[str, float]] = defaultdict(dict)
    for (rater, node), scores in cells.items():
        values[rater][node] = float(np.mean(scores))
    return values


def krippendorff_interval(units: list[list[float]]) -> float:
    """Alpha from the coincidence matrix of values (Krippendorff 2011, interval delta)."""
    pairable = [u for u in units if len(u) >= 2]
    coincidences: dict[tuple[float, float], float] = defaultdict(float)
    for unit in pairable:
        for i, j in itertools.permutations(range(len(unit)), 2):
            coincidences[(unit[i], unit[j])] += 1 / (len(unit) - 1)
    marginal: dict[float, float] = defaultdict(float)
    for (c, _), weight in coincidences.items():
        marginal[c] += weight
    n = sum(marginal.values())
    observed = sum(w * (c - k) ** 2 for (c, k), w in coincidences.items()) / n
    expected = sum(marginal[c] * marginal[k] * (c - k) ** 2 for c in marginal for k in marginal) / (
        n * (n - 1)
    )
    return 1 - observed / expected


def half_up(values: list[float]) -> list[int]:
    return [math.floor(v + 0.5) for v in values]


# --- tests ------------------------------------------------------------------


def test_judge_scores_has_one_row_per_judgement_with_its_replay_coordinates(
    built: Warehouse,
) -> None:
    rows = built.rows_by_id("analytics.judge_scores", "feedback_id")
    assert len(rows) == len(FEEDBACK)
    judged = next(f for f in FEEDBACK if f["request_id"] == "replay-concise-004-1")
    row = rows[judged["feedback_id"]]
    assert (row["cohort_id"], row["variant_name"], row["sample_index"]) == (COHORT, "concise", 1)
    assert row["compared_node_id"] == "node-004" and row["target_kind"] == "trajectory"
    assert row["template_name"] == "helpfulness" and row["parse_status"] == "parsed"
    failed = [r for r in rows.values() if r["parse_status"] == "failed"]
    assert len(failed) == 1 and failed[0]["score"] is None and "SCORE" in failed[0]["parse_error"]
    assert {r["rater"] for r in rows.values() if r["rater_kind"] == "human"} == {"human"}
    plain = rows["judge-plain-node-001"]
    assert (plain["score"], plain["template_name"], plain["parse_status"]) == (
        6.5,
        "unspecified",
        "parsed",
    )


def test_agreement_matches_scipy_sklearn_and_a_coincidence_matrix(built: Warehouse) -> None:
    values = rater_values("helpfulness")
    marts = built.query(
        "select rater_a, rater_b, common_targets, spearman_rho, weighted_kappa, "
        "mean_abs_diff, krippendorff_alpha from analytics.evaluator_agreement "
        "where template_name = 'helpfulness'"
    )
    assert {(a, b) for a, b, *_ in marts} == {
        ("gpt-4o", "gpt-4o-mini"),
        ("gpt-4o", "human"),
        ("gpt-4o-mini", "human"),
    }
    nodes = sorted({n for v in values.values() for n in v})
    alpha = krippendorff_interval([[values[r][n] for r in values if n in values[r]] for n in nodes])
    for rater_a, rater_b, common, rho, kappa, mad, mart_alpha in marts:
        common_nodes = sorted(set(values[rater_a]) & set(values[rater_b]))
        a = [values[rater_a][n] for n in common_nodes]
        b = [values[rater_b][n] for n in common_nodes]
        assert common == len(common_nodes)
        assert rho == pytest.approx(stats.spearmanr(a, b).statistic, abs=2e-6)
        expected_kappa = cohen_kappa_score(half_up(a), half_up(b), weights="quadratic")
        assert kappa == pytest.approx(expected_kappa, abs=2e-6)
        assert mad == pytest.approx(np.mean(np.abs(np.subtract(a, b))), abs=2e-6)
        assert mart_alpha == pytest.approx(alpha, abs=2e-6)


def test_variant_comparison_matches_an_exact_sign_test_and_the_same_md5_bootstrap(
    built: Warehouse,
) -> None:
    per_node: dict[tuple[str, str], list[float]] = defaultdict(list)
    for row in parsed_scores():
        if row["variant"] and row["rater"] != "human":
            per_node[(row["variant"], row["compared"])].append(row["score"])
    marts = built.query(
        "select variant_a, variant_b, winner, common_nodes, wins, ties, losses, "
        "mean_difference, ci_low, ci_high, p_value from analytics.variant_comparison"
    )
    assert len(marts) == 3
    for a, b, winner, common, wins, ties, losses, mean, low, high, p in marts:
        nodes = sorted({n for v, n in per_node if v == a} & {n for v, n in per_node if v == b})
        diffs = [np.mean(per_node[(a, n)]) - np.mean(per_node[(b, n)]) for n in nodes]
        assert common == len(nodes) and mean == pytest.approx(np.mean(diffs), abs=2e-6)
        expected = (
            sum(d > 0 for d in diffs),
            sum(d == 0 for d in diffs),
            sum(d < 0 for d in diffs),
        )
        assert (wins, ties, losses) == expected
        sign_p = stats.binomtest(wins, wins + losses, 0.5).pvalue
        assert p == pytest.approx(sign_p, abs=2e-6)
        means = []
        for replicate in range(1, 1001):
            picks = [
                int(
                    hashlib.md5(f"trellis|{COHORT}|{a}|{b}|{replicate}|{d}".encode()).hexdigest()[
                        :7
                    ],
                    16,
                )
                % len(diffs)
                for d in range(1, len(diffs) + 1)
            ]
            means.append(np.mean([diffs[i] for i in picks]))
        assert low == pytest.approx(np.percentile(means, 2.5), abs=2e-6)
        assert high == pytest.approx(np.percentile(means, 97.5), abs=2e-6)
        better = a if mean > 0 else b
        assert winner == (better if sign_p < 0.05 else None)


def test_variance_components_follow_the_documented_estimator(built: Warehouse) -> None:
    marts = {
        row[0]: row[1:]
        for row in built.query(
            "select variant_name, score_count, total_variance, within_node_variance, "
            "between_sample_variance, between_judge_variance, between_template_variance, "
            "residual_variance from analytics.score_variance_components"
        )
    }
    rows = [r for r in parsed_scores() if r["variant"] and r["rater"] != "human"]
    for variant, mart in marts.items():
        mine = [r for r in rows if r["variant"] == variant]
        scores = np.array([r["score"] for r in mine])
        node_mean = {
            n: np.mean([r["score"] for r in mine if r["compared"] == n])
            for n in {r["compared"] for r in mine}
        }

        def component(
            key: str, mine: list[dict[str, Any]] = mine, node_mean: dict[str, Any] = node_mean
        ) -> float:
            cells: dict[tuple[str, Any], list[float]] = defaultdict(list)
            for r in mine:
                cells[(r["compared"], r[key])].append(r["score"])
            return sum(
                len(v) * (np.mean(v) - node_mean[n]) ** 2 for (n, _), v in cells.items()
            ) / len(mine)

        within = np.mean([(r["score"] - node_mean[r["compared"]]) ** 2 for r in mine])
        parts = [component("sample"), component("rater"), component("version")]
        expected = [len(mine), scores.var(), within, *parts, max(0.0, within - sum(parts))]
        assert list(mart) == pytest.approx(expected, abs=2e-6)


def test_template_versions_and_perfect_paths(built: Warehouse) -> None:
    rows = built.query(
        "select template_version, judge_model, score_count, mean_score, ci_low, ci_high "
        "from analytics.template_version_comparison where template_name = 'helpfulness'"
    )
    assert len(rows) == 4
    for version, judge, n, mean, low, high in rows:
        scores = [
            r["score"] for r in parsed_scores() if r["version"] == version and r["rater"] == judge
        ]
        half = stats.t.ppf(0.975, len(scores) - 1) * np.std(scores, ddof=1) / math.sqrt(len(scores))
        assert (n, mean) == (len(scores), pytest.approx(np.mean(scores), abs=2e-6))
        assert (low, high) == (
            pytest.approx(np.mean(scores) - half, abs=1e-5),
            pytest.approx(np.mean(scores) + half, abs=1e-5),
        )
    perfect = built.query("select trajectory_id, judge_count from analytics.perfect_score_paths")
    assert perfect == [("traj-node-perfect", 2)]


def test_dbt_docs_generate_static_writes_one_page_with_the_marts_and_exposures(
    built: Warehouse,
) -> None:
    built.dbt("docs", "generate", "--static")
    page = built.work / "dbt" / "static_index.html"
    text = page.read_text(encoding="utf-8")
    for name in (
        "evaluator_agreement",
        "variant_comparison",
        "trellis_report",
        "duckdb_file_for_bi",
    ):
        assert name in text, name
