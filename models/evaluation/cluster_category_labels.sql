-- One row per cluster (of the current clustering, per view), label source and
-- category found in it: the share of the cluster's trajectories with that
-- label, and the cluster's dominant category for that source and its share
-- (ties: the category first by name).

with

clusters as (
    select * from {{ ref('trajectory_clusters') }}
),

labels as (
    select * from {{ ref('trajectory_category_labels') }}
),

cluster_sizes as (
    select
        view,
        cluster_id,
        count(*) as cluster_size
    from clusters
    group by view, cluster_id
),

counted as (
    select
        clusters.view,
        clusters.cluster_id,
        labels.label_source,
        labels.category,
        count(*) as labeled_trajectories
    from clusters
    inner join labels on clusters.trajectory_id = labels.trajectory_id
    group by clusters.view, clusters.cluster_id, labels.label_source, labels.category
),

shared as (
    select
        counted.view,
        cast(counted.cluster_id as varchar) as cluster_id,
        counted.label_source,
        counted.category,
        counted.labeled_trajectories,
        cluster_sizes.cluster_size,
        cast(counted.labeled_trajectories as double) / cluster_sizes.cluster_size as category_share,
        first_value(counted.category) over (
            partition by counted.view, counted.cluster_id, counted.label_source
            order by counted.labeled_trajectories desc, counted.category asc
        ) as dominant_category,
        max(counted.labeled_trajectories) over (
            partition by counted.view, counted.cluster_id, counted.label_source
        ) as dominant_count
    from counted
    inner join cluster_sizes
        on counted.view = cluster_sizes.view and counted.cluster_id = cluster_sizes.cluster_id
),

final as (
    select
        view,
        cluster_id,
        label_source,
        category,
        dominant_category,
        labeled_trajectories,
        cluster_size,
        category_share,
        cast(dominant_count as double) / cluster_size as dominant_share,
        category = dominant_category as is_dominant
    from shared
)

select * from final
