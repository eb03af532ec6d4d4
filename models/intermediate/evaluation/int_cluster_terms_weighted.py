"""One row per clustering x cluster: its top task-text terms by c-TF-IDF (see trellis.evaluation.terms)."""

from trellis.evaluation.terms import cluster_terms


def model(dbt, session):
    dbt.config(materialized="table")
    return cluster_terms(
        session,
        members=dbt.ref("int_trajectory_clusters_assigned"),
        trajectories=dbt.ref("trajectory_units"),
        messages=dbt.ref("stg_gateway__request_messages"),
        top=int(dbt.config.get("top_terms")),
    )
