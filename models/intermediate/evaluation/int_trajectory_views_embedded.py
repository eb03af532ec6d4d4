"""One row per trajectory x view x embedder: the view's vector (see trellis.evaluation.trajectory_embeddings)."""

from trellis.evaluation.embedders import make_embedder
from trellis.evaluation.trajectory_embeddings import Boilerplate, embed_trajectories


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["trajectory_id", "view", "embedder"],
    )
    embedder = make_embedder(
        dbt.config.get("embedder_name"),
        {
            "base_url": dbt.config.get("openai_base_url"),
            "model": dbt.config.get("openai_model"),
            "api_key_env": dbt.config.get("openai_api_key_env"),
        },
    )
    table, _ = embed_trajectories(
        session,
        trajectories=dbt.ref("trajectory_units"),
        requests=dbt.source("gateway", "requests"),
        turn_counts=dbt.ref("int_user_turns_counted"),
        existing=str(dbt.this) if dbt.is_incremental else None,
        embedder=embedder,
        boilerplate=Boilerplate(
            min_roots=int(dbt.config.get("boilerplate_min_roots")),
            share=float(dbt.config.get("boilerplate_share")),
        ),
    )
    return table
