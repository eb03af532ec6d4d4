-- One row per trajectory x view: its cluster in the current clustering of its
-- group (tenant scope by default, or global over the tenants whose policy
-- allows it: var evaluation_cluster_scope). Clusters are structure, not
-- judgments.
with

assigned as (
    select * from {{ ref('int_trajectory_clusters_assigned') }}
),

final as (
    select
        trajectory_id,
        tenant_id,
        view,
        clustering_id,
        cluster_id,
        distance_to_centroid,
        is_exemplar,
        assigned_at
    from assigned
)

select * from final
