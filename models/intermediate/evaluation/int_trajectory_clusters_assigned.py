"""One row per trajectory x view: its cluster in the latest clustering (see trellis.evaluation.trajectory_clusters)."""

from trellis.evaluation.trajectory_clusters import ClusterSettings, assign_clusters


def model(dbt, session):
    dbt.config(materialized="table")
    settings = ClusterSettings(
        scope=dbt.config.get("cluster_scope"),
        embedder=dbt.config.get("embedder_name"),
        exemplars_per_cluster=int(dbt.config.get("exemplars_per_cluster")),
    )
    return assign_clusters(
        session,
        embeddings=dbt.ref("trajectory_embeddings"),
        policies=dbt.ref("tenant_data_policies"),
        fitted_table=dbt.ref("int_trajectory_clusterings_fitted"),
        settings=settings,
    )
