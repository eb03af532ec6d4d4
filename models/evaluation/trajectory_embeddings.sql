-- One row per trajectory x view x embedder, for trajectories that are current
-- leaves (a trajectory extended by a later turn is a new trajectory; its old
-- prefix drops out here while its stored vector stays for reuse).
with

embedded as (
    select * from {{ ref('int_trajectory_views_embedded') }}
),

trajectories as (
    select trajectory_id from {{ ref('trajectory_units') }}
),

current_rows as (
    select
        embedded.trajectory_id,
        embedded.tenant_id,
        embedded.view,
        embedded.embedder,
        embedded.dim,
        cast(embedded.embedding as float[]) as embedding,
        embedded.content_key,
        embedded.embedded_at
    from embedded
    inner join trajectories on embedded.trajectory_id = trajectories.trajectory_id
)

select * from current_rows
