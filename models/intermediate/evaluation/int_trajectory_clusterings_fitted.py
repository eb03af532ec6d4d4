"""One row per clustering x cluster: every fit kept (see trellis.evaluation.trajectory_clusters)."""

from trellis.evaluation.trajectory_clusters import ClusterSettings, fit_clusterings


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="append")
    recluster = dbt.config.get("recluster")
    settings = ClusterSettings(
        scope=dbt.config.get("cluster_scope"),
        embedder=dbt.config.get("embedder_name"),
        k=int(dbt.config.get("cluster_k")),
        seed=int(dbt.config.get("cluster_seed")),
        recluster=str(recluster).lower() == "true",
        drift_threshold=float(dbt.config.get("drift_threshold")),
    )
    return fit_clusterings(
        session,
        embeddings=dbt.ref("trajectory_embeddings"),
        policies=dbt.ref("tenant_data_policies"),
        existing=str(dbt.this) if dbt.is_incremental else None,
        settings=settings,
    )
