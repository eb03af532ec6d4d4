-- One row per trajectory x view x embedder, for the current trajectories
-- (int_trajectory_views_embedded drops the others after each run). A view with
-- no reference to the lineage marts, so the workbench file reads it without
-- the PostgreSQL attachment.
with

embedded as (
    select * from {{ ref('int_trajectory_views_embedded') }}
),

final as (
    select
        trajectory_id,
        tenant_id,
        view,
        embedder,
        dim,
        cast(embedding as float[]) as embedding,
        content_key,
        embedded_at
    from embedded
)

select * from final
