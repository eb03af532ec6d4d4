"""The report's sections: query the marts, shape the aggregates, render charts.

A section whose marts are missing says which `dbt build` makes them; one whose
marts are empty says so; neither fails the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trellis.report import charts
from trellis.report import queries as q
from trellis.storage import Store


@dataclass(frozen=True)
class Chart:
    title: str
    svg: str


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@dataclass
class Section:
    key: str
    title: str
    intro: str
    notes: list[str] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.charts and not self.tables


def _shown(column: str, value: Any) -> Any:
    if not isinstance(value, float):
        return value
    if column == "p_value" and value < 1e-4:
        return "< 0.0001"
    return round(value, 4)


def _table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Table:
    return Table(title, tuple(columns), [tuple(_shown(c, r[c]) for c in columns) for r in rows])


def _missing(store: Store, section: Section, relations: Sequence[str], build: str) -> bool:
    """True (and a note on the section) when one of the relations does not exist."""
    absent = [r for r in relations if not q.relation_exists(store, r)]
    if absent:
        section.notes.append(
            f"Not built yet: {', '.join(absent)}. Run `dbt build --select {build}`."
        )
    return bool(absent)


def traffic_and_cost(store: Store) -> Section:
    section = Section(
        "costs",
        "Traffic and cost per day",
        "Calls and cost in USD per UTC day, by agent and by tenant. Red diamonds "
        "mark the agent-days cost_anomalies flags (cost above the agent's "
        "trailing baseline).",
    )
    relations = ("costs.daily_agent_costs", "costs.daily_tenant_costs", "costs.cost_anomalies")
    if _missing(store, section, relations, "tag:costs"):
        return section
    agents = q.fetch(store, q.DAILY_AGENT_COSTS)
    tenants = q.fetch(store, q.DAILY_TENANT_COSTS)
    if not agents:
        section.notes.append("No calls yet: costs.daily_agent_costs is empty.")
        return section
    section.charts += [
        Chart(
            "Cost per day by agent (USD)",
            charts.daily_lines(agents, "agent_id", "cost_usd", "cost (USD)", anomalies=True),
        ),
        Chart(
            "Calls per day by agent",
            charts.daily_lines(agents, "agent_id", "call_count", "calls", anomalies=False),
        ),
    ]
    if tenants:
        section.charts += [
            Chart(
                "Cost per day by tenant (USD)",
                charts.daily_lines(tenants, "tenant_id", "cost_usd", "cost (USD)", False),
            ),
            Chart(
                "Calls per day by tenant",
                charts.daily_lines(tenants, "tenant_id", "call_count", "calls", False),
            ),
        ]
    anomalies = q.fetch(store, q.COST_ANOMALIES)
    if anomalies:
        section.tables.append(_table("Latest cost anomalies", anomalies, q.COST_ANOMALIES.columns))
    else:
        section.notes.append("No cost anomalies.")
    return section


def confidence(store: Store) -> Section:
    section = Section(
        "confidence",
        "Agent confidence against the global score",
        "Each point is an agent and model on the last day of traffic: the "
        "agent's own confidence against the model's global score. Points off the "
        "dashed diagonal by more than the divergence threshold are red.",
    )
    relations = ("agents.agent_confidence_scores", "agents.confidence_divergence")
    if _missing(store, section, relations, "tag:agents"):
        return section
    latest = q.fetch(store, q.LATEST_CONFIDENCE)
    if not latest:
        section.notes.append("No confidence scores yet.")
        return section
    section.charts.append(Chart("Confidence on the last day", charts.confidence_scatter(latest)))
    divergences = q.fetch(store, q.DIVERGENCE_COUNTS)
    if divergences:
        section.tables.append(
            _table(
                "Days of divergence by agent and model", divergences, q.DIVERGENCE_COUNTS.columns
            )
        )
    else:
        section.notes.append("No divergences beyond the threshold.")
    return section


def latency(store: Store) -> Section:
    section = Section(
        "latency",
        "Latency against the SLO",
        "p50, p95 and p99 latency per agent (call-weighted mean of the hourly "
        "percentiles of agent_latency_slo); the red tick is the agent's latency "
        "target from agent_policies.",
    )
    if _missing(store, section, ("agents.agent_latency_slo",), "tag:agents"):
        return section
    rows = q.fetch(store, q.LATENCY_SLO)
    if not rows:
        section.notes.append("No latency measurements yet.")
        return section
    section.charts.append(Chart("Latency percentiles by agent", charts.latency_bars(rows)))
    section.tables.append(
        _table(
            "Hours breaching the SLO",
            rows,
            ("agent_id", "slo_percentile", "slo_ms", "hour_count", "breached_hour_count"),
        )
    )
    return section


def tree_shapes(store: Store) -> Section:
    section = Section(
        "trees",
        "Conversation tree shapes",
        "How deep conversation trees grow (depths from 10 on in ranges) and how often "
        "they branch (counts on a log-like scale).",
    )
    relations = ("lineage.conversation_branch_nodes", "lineage.trajectory_units")
    if _missing(store, section, relations, "tag:lineage"):
        return section
    depths = q.fetch(store, q.DEPTH_DISTRIBUTION)
    if not depths:
        section.notes.append("No conversation nodes yet.")
        return section
    section.charts.append(
        Chart(
            "Nodes by depth",
            charts.distribution_bars(depths, "depth", "node_count", "depth", "nodes"),
        )
    )
    branching = q.fetch(store, q.BRANCHING_DISTRIBUTION)
    if branching:
        section.charts.append(
            Chart(
                "Inner nodes by number of children",
                charts.distribution_bars(
                    branching, "child_count", "node_count", "children", "nodes"
                ),
            )
        )
    trajectories = q.fetch(store, q.TRAJECTORY_DEPTHS)
    if trajectories:
        section.charts.append(
            Chart(
                "Trajectories by depth",
                charts.distribution_bars(
                    trajectories, "depth", "trajectory_count", "depth", "trajectories"
                ),
            )
        )
    return section


def _projected(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """First two principal components of the sampled embeddings (numpy SVD)."""
    matrix = np.array([np.asarray(p["embedding"], dtype=float) for p in points])
    centered = matrix - matrix.mean(axis=0)
    _, _, components = np.linalg.svd(centered, full_matrices=False)
    xy = centered @ components[:2].T
    if xy.shape[1] < 2:
        xy = np.column_stack([xy, np.zeros(len(xy))])
    return [
        {"cluster_id": p["cluster_id"], "view": p["view"], "x": float(x), "y": float(y)}
        for p, (x, y) in zip(points, xy, strict=True)
    ]


def _whole_table(store: Store, relation: str, title: str, limit: int = 30) -> Table | None:
    columns = [c for c in q.relation_columns(store, relation) if c != "embedding"]
    if not columns:
        return None
    query = q.Query(f"select {', '.join(columns)} from {relation} limit {limit}", tuple(columns))
    rows = q.fetch(store, query)
    return _table(title, rows, columns) if rows else None


def clusters(store: Store) -> Section:
    section = Section(
        "clusters",
        "Trajectory clusters",
        "Trajectories projected to two dimensions (principal components of their "
        f"embeddings, a sample of at most {q.CLUSTER_SAMPLE}) and coloured by "
        "cluster; cluster sizes, top terms and label shares.",
    )
    relations = ("evaluation.trajectory_clusters",)
    if _missing(store, section, relations, "tag:evaluation"):
        return section
    sizes = q.fetch(store, q.CLUSTER_SIZES)
    if not sizes:
        section.notes.append("No clustered trajectories yet.")
        return section
    if q.relation_exists(store, "evaluation.trajectory_embeddings"):
        points = [p for p in q.fetch(store, q.CLUSTER_POINTS) if p["embedding"]]
        if len(points) >= 3:
            section.charts.append(
                Chart("2-D projection by cluster", charts.cluster_projection(_projected(points)))
            )
    section.tables.append(_table("Cluster sizes", sizes, q.CLUSTER_SIZES.columns))
    for relation, title in (
        ("evaluation.trajectory_cluster_summaries", "Cluster summaries (top terms)"),
        ("evaluation.cluster_category_labels", "Category label shares"),
    ):
        if q.relation_exists(store, relation):
            table = _whole_table(store, relation, title)
            if table:
                section.tables.append(table)
        else:
            section.notes.append(f"{relation} is not built yet.")
    return section


def judge_agreement(store: Store) -> Section:
    section = Section(
        "agreement",
        "Judge agreement",
        "Quadratic-weighted kappa between raters (judge models, and humans) per "
        "template; the table adds Spearman's rho, the mean absolute difference and "
        "Krippendorff's alpha across all raters. Template versions: mean score "
        "per judge with its 95% confidence interval.",
    )
    relations = ("analytics.evaluator_agreement", "analytics.template_version_comparison")
    if _missing(store, section, relations, "tag:analytics"):
        return section
    agreement = [r for r in q.fetch(store, q.AGREEMENT) if r["weighted_kappa"] is not None]
    if agreement:
        for template in sorted({r["template_name"] for r in agreement}):
            mine = [r for r in agreement if r["template_name"] == template]
            section.charts.append(
                Chart(
                    f"Weighted kappa, template {template}",
                    charts.heatmap(mine, "rater_a", "rater_b", "weighted_kappa", "kappa", [-1, 1]),
                )
            )
        section.tables.append(_table("Agreement", agreement, q.AGREEMENT.columns))
    else:
        section.notes.append("No two raters have scored common targets yet.")
    versions = [r for r in q.fetch(store, q.TEMPLATE_VERSIONS) if r["ci_low"] is not None]
    for row in versions:
        row["label"] = f"{row['template_name']} v{row['template_version']} / {row['judge_model']}"
    if versions:
        section.charts.append(
            Chart(
                "Template version x judge: mean score, 95% CI",
                charts.interval_chart(versions, "label", "mean_score", "score", "judge_model"),
            )
        )
    return section


def variants(store: Store) -> Section:
    section = Section(
        "variants",
        "Replay variant comparisons",
        "Mean paired score difference (variant a - variant b) over the nodes both "
        "replayed, with its seeded bootstrap 95% interval; a winner is named only "
        "when the sign test is significant.",
    )
    relations = ("analytics.variant_comparison", "analytics.generation_scores_pivot")
    if _missing(store, section, relations, "tag:analytics"):
        return section
    comparisons = q.fetch(store, q.VARIANT_COMPARISON)
    if not comparisons:
        section.notes.append("No replay cohort has two judged variants yet.")
        return section
    for row in comparisons:
        row["pair"] = f"{row['cohort_id']}: {row['variant_a']} - {row['variant_b']}"
        row["result"] = f"{row['winner']} wins" if row["winner"] else "no significant winner"
    section.charts.append(
        Chart(
            "Mean difference with bootstrap 95% interval",
            charts.interval_chart(
                comparisons, "pair", "mean_difference", "score difference", "result"
            ),
        )
    )
    section.tables.append(
        _table(
            "Comparisons",
            comparisons,
            (
                "cohort_id",
                "variant_a",
                "variant_b",
                "winner",
                "common_nodes",
                "wins",
                "ties",
                "losses",
                "mean_difference",
                "ci_low",
                "ci_high",
                "p_value",
            ),
        )
    )
    scores = q.fetch(store, q.GENERATION_SCORES)
    for cohort in sorted({r["cohort_id"] for r in scores}):
        mine = [r for r in scores if r["cohort_id"] == cohort]
        section.charts.append(
            Chart(
                f"Mean score by variant and judge, cohort {cohort}",
                charts.heatmap(
                    mine, "judge_model", "variant_name", "mean_score", "mean score", [0, 10]
                ),
            )
        )
    perfect = q.fetch(store, q.PERFECT_PATHS)
    section.notes.append(
        "Trajectories with the top score from every judge (analytics.perfect_score_paths): "
        f"{perfect[0]['trajectory_count']}."
    )
    return section


SECTIONS: tuple[Callable[[Store], Section], ...] = (
    traffic_and_cost,
    confidence,
    latency,
    tree_shapes,
    clusters,
    judge_agreement,
    variants,
)
