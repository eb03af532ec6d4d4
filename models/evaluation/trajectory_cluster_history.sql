-- One row per clustering x cluster: every fit of every group, with where the
-- cluster's id came from (the previous clustering and the members it shares
-- with the cluster of the same id there) and why the group was refitted.
with

fitted as (
    select * from {{ ref('int_trajectory_clusterings_fitted') }}
),

latest as (
    select
        scope_key,
        view,
        max(clustering_seq) as clustering_seq
    from fitted
    group by scope_key, view
),

history as (
    select
        fitted.clustering_id,
        fitted.cluster_id,
        fitted.previous_clustering_id,
        fitted.scope_key,
        fitted.view,
        fitted.embedder,
        fitted.fit_reason,
        fitted.clustering_seq,
        fitted.cluster_number,
        fitted.k,
        fitted.cluster_size,
        fitted.previous_overlap,
        fitted.silhouette,
        fitted.mean_distance_at_fit,
        latest.clustering_seq is not null as is_current,
        fitted.fitted_at
    from fitted
    left join latest
        on
            fitted.scope_key = latest.scope_key
            and fitted.view = latest.view
            and fitted.clustering_seq = latest.clustering_seq
)

select * from history
