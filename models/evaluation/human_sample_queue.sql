-- One row per trajectory drawn for human review: a stratified sample over
-- cluster (task view) x category x agent, uncertain cases first.
--   1. A trajectory's strata are its categories (rule or model labels; none:
--      'unlabeled') within its cluster and its leaf's agent.
--   2. Reviewed trajectories (any human review) are skipped.
--   3. Uncertain: rule and model labels disagree (a category one source names
--      and the other, having labeled the trajectory, does not), judges
--      disagree (a category named by some judges, not all), a small cluster
--      (human_sample_small_cluster_size or fewer members).
--   4. In each stratum, the most uncertain first, ties broken by md5 of
--      human_sample_seed and the trajectory id; human_sample_quota per stratum.
--      A trajectory drawn in several strata is queued once, at its best place.

with

trajectories as (
    select * from {{ ref('trajectory_units') }}
),

nodes as (
    select * from {{ ref('conversation_branch_nodes') }}
),

clusters as (
    select * from {{ ref('trajectory_clusters') }}
    where view = 'task'
),

labels as (
    select * from {{ ref('trajectory_category_labels') }}
),

judged as (
    select * from {{ ref('int_trajectory_categories_judged') }}
),

reviews as (
    select * from {{ ref('int_human_reviews_parsed') }}
),

cluster_sizes as (
    select
        cluster_id,
        count(*) as cluster_size
    from clusters
    group by cluster_id
),

label_sources as (
    select
        trajectory_id,
        count(distinct label_source) as source_count
    from labels
    group by trajectory_id
),

category_sources as (
    select
        trajectory_id,
        category,
        count(distinct label_source) as sources
    from labels
    group by trajectory_id, category
),

disagreements as (
    select
        category_sources.trajectory_id,
        bool_or(label_sources.source_count = 2 and category_sources.sources = 1) as rule_model_disagree
    from category_sources
    inner join label_sources on category_sources.trajectory_id = label_sources.trajectory_id
    group by category_sources.trajectory_id
),

judge_splits as (
    select
        trajectory_id,
        bool_or(named_by_judges < answering_judges) as judges_disagree
    from judged
    group by trajectory_id
),

candidates as (
    select
        trajectories.trajectory_id,
        trajectories.tenant_id,
        trajectories.leaf_node_id,
        nodes.agent_id,
        coalesce(cast(clusters.cluster_id as varchar), 'unclustered') as cluster_id,
        cluster_sizes.cluster_size,
        coalesce(disagreements.rule_model_disagree, false) as rule_model_disagree,
        coalesce(judge_splits.judges_disagree, false) as judges_disagree,
        coalesce(cluster_sizes.cluster_size <= {{ var('human_sample_small_cluster_size') }}, false)
            as is_small_cluster,
        md5({{ var('human_sample_seed') }} || '|' || trajectories.trajectory_id) as draw_key
    from trajectories
    inner join nodes
        on
            trajectories.leaf_node_id = nodes.node_id
            and trajectories.tenant_id = nodes.tenant_id
    left join clusters on trajectories.trajectory_id = clusters.trajectory_id
    left join cluster_sizes on clusters.cluster_id = cluster_sizes.cluster_id
    left join disagreements on trajectories.trajectory_id = disagreements.trajectory_id
    left join judge_splits on trajectories.trajectory_id = judge_splits.trajectory_id
    where not exists (
        select 1 from reviews
        where reviews.trajectory_id = trajectories.trajectory_id
    )
),

stratified as (
    select
        candidates.*,
        coalesce(category_sources.category, 'unlabeled') as stratum_category,
        cast(candidates.rule_model_disagree as integer)
        + cast(candidates.judges_disagree as integer)
        + cast(candidates.is_small_cluster as integer) as uncertainty_score
    from candidates
    left join category_sources on candidates.trajectory_id = category_sources.trajectory_id
),

drawn as (
    select
        stratified.*,
        row_number() over (
            partition by stratified.cluster_id, stratified.stratum_category, stratified.agent_id
            order by stratified.uncertainty_score desc, stratified.draw_key asc
        ) as stratum_rank
    from stratified
),

placed as (
    select
        drawn.*,
        row_number() over (
            partition by drawn.trajectory_id
            order by drawn.stratum_rank, drawn.stratum_category
        ) as placement
    from drawn
    where drawn.stratum_rank <= {{ var('human_sample_quota') }}
),

final as (
    select
        trajectory_id,
        tenant_id,
        leaf_node_id,
        agent_id,
        cluster_id,
        stratum_category,
        concat_ws(
            ', ',
            case when rule_model_disagree then 'rule_model_disagree' end,
            case when judges_disagree then 'judges_disagree' end,
            case when is_small_cluster then 'small_cluster' end
        ) as uncertainty,
        uncertainty_score,
        cluster_size,
        stratum_rank,
        row_number() over (order by uncertainty_score desc, stratum_rank asc, draw_key asc) as queue_position,
        rule_model_disagree,
        judges_disagree,
        is_small_cluster
    from placed
    where placement = 1
)

select * from final
