-- One row per cluster of the current placement: its size, exemplars, top
-- terms of its task text, the agents of its trajectories and their mean
-- quality (completion_quality feedback on the trajectories' last calls).
with

members as (
    select * from {{ ref('trajectory_clusters') }}
),

terms as (
    select * from {{ ref('int_cluster_terms_weighted') }}
),

trajectories as (
    select
        trajectory_id,
        tenant_id,
        leaf_node_id
    from {{ ref('trajectory_units') }}
),

nodes as (
    select
        node_id,
        tenant_id,
        agent_id
    from {{ ref('conversation_branch_nodes') }}
),

feedback as (
    select
        request_id,
        tenant_id,
        avg(completion_quality) as completion_quality
    from {{ ref('int_feedback_tenants_resolved') }}
    where completion_quality is not null
    group by request_id, tenant_id
),

member_facts as (
    select
        members.clustering_id,
        members.cluster_id,
        members.view,
        members.trajectory_id,
        members.tenant_id,
        members.is_exemplar,
        members.distance_to_centroid,
        nodes.agent_id,
        feedback.completion_quality
    from members
    inner join trajectories on members.trajectory_id = trajectories.trajectory_id
    left join nodes
        on
            trajectories.leaf_node_id = nodes.node_id
            and trajectories.tenant_id = nodes.tenant_id
    left join feedback
        on
            trajectories.leaf_node_id = feedback.request_id
            and trajectories.tenant_id = feedback.tenant_id
),

summarized as (
    select
        clustering_id,
        cluster_id,
        any_value(view) as view,
        list(distinct tenant_id order by tenant_id) as tenant_ids,
        list(trajectory_id order by distance_to_centroid, trajectory_id) filter (where is_exemplar)
            as exemplar_trajectory_ids,
        list(distinct agent_id order by agent_id) filter (where agent_id is not null) as agent_ids,
        count(*) as trajectory_count,
        count(completion_quality) as rated_trajectory_count,
        avg(completion_quality) as mean_quality,
        avg(distance_to_centroid) as mean_distance_to_centroid
    from member_facts
    group by clustering_id, cluster_id
),

final as (
    select
        summarized.clustering_id,
        summarized.cluster_id,
        summarized.view,
        summarized.tenant_ids,
        summarized.exemplar_trajectory_ids,
        coalesce(terms.top_terms, []) as top_terms,
        summarized.agent_ids,
        summarized.trajectory_count,
        summarized.rated_trajectory_count,
        summarized.mean_quality,
        summarized.mean_distance_to_centroid
    from summarized
    left join terms
        on summarized.clustering_id = terms.clustering_id and summarized.cluster_id = terms.cluster_id
)

select * from final
