"""Every query of the report, aggregated in the warehouse (the report plots aggregates only).

Each query names the marts it reads; a section whose marts are missing or empty
says so instead of failing. The SQL runs unchanged on DuckDB and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from trellis.storage import Store

Row = dict[str, Any]


@dataclass(frozen=True)
class Query:
    sql: str
    columns: tuple[str, ...]


def relation_exists(store: Store, relation: str) -> bool:
    schema, name = relation.split(".")
    rows = store.query(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    )
    return bool(rows[0][0])


def relation_columns(store: Store, relation: str) -> list[str]:
    schema, name = relation.split(".")
    rows = store.query(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, name],
    )
    return [row[0] for row in rows]


def _plain(value: Any) -> Any:
    """JSON-ready values for the charts: numbers as floats, dates as ISO text."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def fetch(store: Store, query: Query, params: Sequence[Any] | None = None) -> list[Row]:
    return [
        {name: _plain(value) for name, value in zip(query.columns, row, strict=True)}
        for row in store.query(query.sql, params)
    ]


DAILY_AGENT_COSTS = Query(
    """
    select costs.agent_id, cast(costs.cost_date as date), costs.call_count, costs.cost_usd,
        case when anomalies.agent_id is null then false else true end
    from costs.daily_agent_costs as costs
    left join costs.cost_anomalies as anomalies
        on costs.agent_id = anomalies.agent_id and costs.cost_date = anomalies.cost_date
    order by 1, 2
    """,
    ("agent_id", "cost_date", "call_count", "cost_usd", "is_anomaly"),
)

DAILY_TENANT_COSTS = Query(
    """
    select tenant_id, cast(cost_date as date), call_count, cost_usd
    from costs.daily_tenant_costs
    order by 1, 2
    """,
    ("tenant_id", "cost_date", "call_count", "cost_usd"),
)

COST_ANOMALIES = Query(
    """
    select agent_id, cast(cost_date as date), cost_usd, baseline_mean_usd, threshold_usd
    from costs.cost_anomalies
    order by cost_date desc, agent_id
    limit 20
    """,
    ("agent_id", "cost_date", "cost_usd", "baseline_mean_usd", "threshold_usd"),
)

LATEST_CONFIDENCE = Query(
    """
    with latest as (
        select max(score_date) as score_date from agents.agent_confidence_scores
    )
    select scores.agent_id, scores.model, scores.agent_confidence_score,
        scores.global_confidence_score, scores.confidence_divergence,
        case when divergent.agent_id is null then false else true end
    from agents.agent_confidence_scores as scores
    inner join latest on scores.score_date = latest.score_date
    left join agents.confidence_divergence as divergent
        on scores.agent_id = divergent.agent_id
        and scores.model = divergent.model
        and scores.score_date = divergent.score_date
    where scores.agent_confidence_score is not null
        and scores.global_confidence_score is not null
    order by 1, 2
    """,
    (
        "agent_id",
        "model",
        "agent_confidence_score",
        "global_confidence_score",
        "confidence_divergence",
        "is_divergent",
    ),
)

DIVERGENCE_COUNTS = Query(
    """
    select agent_id, model, divergence_direction, count(*),
        cast(max(score_date) as date)
    from agents.confidence_divergence
    group by agent_id, model, divergence_direction
    order by 4 desc, 1, 2
    limit 20
    """,
    ("agent_id", "model", "divergence_direction", "day_count", "last_date"),
)

LATENCY_SLO = Query(
    """
    select agent_id,
        sum(p50_latency_ms * call_count) / sum(call_count),
        sum(p95_latency_ms * call_count) / sum(call_count),
        sum(p99_latency_ms * call_count) / sum(call_count),
        max(latency_slo_ms),
        max(latency_slo_percentile),
        count(*),
        count(case when is_slo_breached then 1 end)
    from agents.agent_latency_slo
    where p50_latency_ms is not null
    group by agent_id
    order by agent_id
    """,
    (
        "agent_id",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "slo_ms",
        "slo_percentile",
        "hour_count",
        "breached_hour_count",
    ),
)

#: Depths bucketed so a 500-turn agent loop and a 3-turn chat share one readable axis.
DEPTH_BUCKET = """
    case
        when depth < 10 then cast(depth as varchar)
        when depth < 20 then '10-19'
        when depth < 50 then '20-49'
        when depth < 100 then '50-99'
        when depth < 200 then '100-199'
        when depth < 500 then '200-499'
        else '500+'
    end
"""

DEPTH_DISTRIBUTION = Query(
    f"""
    select {DEPTH_BUCKET}, min(depth), count(*) from lineage.conversation_branch_nodes
    group by 1 order by 2
    """,
    ("depth", "bucket_start", "node_count"),
)

BRANCHING_DISTRIBUTION = Query(
    """
    select case when child_count >= 20 then '20+' else cast(child_count as varchar) end,
        min(child_count), count(*)
    from lineage.conversation_branch_nodes
    where child_count > 0
    group by 1 order by 2
    """,
    ("child_count", "bucket_start", "node_count"),
)

TRAJECTORY_DEPTHS = Query(
    f"""
    select {DEPTH_BUCKET}, min(depth), count(*) from lineage.trajectory_units
    group by 1 order by 2
    """,
    ("depth", "bucket_start", "trajectory_count"),
)

CLUSTER_SIZES = Query(
    """
    select view, cast(cluster_id as varchar), count(*)
    from evaluation.trajectory_clusters
    group by view, cluster_id
    order by 3 desc
    limit 40
    """,
    ("view", "cluster_id", "trajectory_count"),
)

#: At most this many trajectories are projected to 2-D: a picture, not the data.
CLUSTER_SAMPLE = 2000

CLUSTER_POINTS = Query(
    f"""
    select cast(clusters.cluster_id as varchar), clusters.view, embeddings.embedding
    from evaluation.trajectory_clusters as clusters
    inner join evaluation.trajectory_embeddings as embeddings
        on clusters.trajectory_id = embeddings.trajectory_id
        and clusters.view = embeddings.view
    order by md5(clusters.trajectory_id)
    limit {CLUSTER_SAMPLE}
    """,
    ("cluster_id", "view", "embedding"),
)

AGREEMENT = Query(
    """
    select template_name, rater_a, rater_b, common_targets, spearman_rho,
        weighted_kappa, mean_abs_diff, krippendorff_alpha
    from analytics.evaluator_agreement
    order by 1, 2, 3
    """,
    (
        "template_name",
        "rater_a",
        "rater_b",
        "common_targets",
        "spearman_rho",
        "weighted_kappa",
        "mean_abs_diff",
        "krippendorff_alpha",
    ),
)

TEMPLATE_VERSIONS = Query(
    """
    select template_name, template_version, judge_model, score_count, mean_score,
        ci_low, ci_high
    from analytics.template_version_comparison
    order by 1, 2, 3
    """,
    (
        "template_name",
        "template_version",
        "judge_model",
        "score_count",
        "mean_score",
        "ci_low",
        "ci_high",
    ),
)

VARIANT_COMPARISON = Query(
    """
    select cohort_id, variant_a, variant_b, winner, common_nodes, wins, ties, losses,
        mean_difference, ci_low, ci_high, p_value, is_significant
    from analytics.variant_comparison
    order by 1, 2, 3
    """,
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
        "is_significant",
    ),
)

GENERATION_SCORES = Query(
    """
    select cohort_id, variant_name, judge_model, mean_score, score_count
    from analytics.generation_scores_pivot
    order by 1, 2, 3
    """,
    ("cohort_id", "variant_name", "judge_model", "mean_score", "score_count"),
)

PERFECT_PATHS = Query(
    "select count(*) from analytics.perfect_score_paths",
    ("trajectory_count",),
)
