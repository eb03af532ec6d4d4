-- One row per trajectory: its quality score on the 0-10 scale, from the most
-- trusted source that scores it, and the evidence behind that score.
--   1. human: the mean over reviewers of each reviewer's latest quality score
--      of the trajectory (human_eval_labels). Evidence: the reviews.
--   2. judge: the mean over judge models of each one's latest
--      completion_quality of the leaf (the answer the trajectory ends with).
--      Evidence: the judges.
--   3. auto: the gateway's facts on the path's calls (feedback source auto or
--      user): their mean completion_quality; else their mean rating mapped
--      +1 -> 10, -1 -> 0; else the latest outcome mapped success 7,
--      fallback 5, user_rejected/error/timeout 0. Evidence: those records.
--   A source that scores it outranks every source below: human > judge > auto.
--   With no feedback at all the trajectory has no score (evidence 0).
-- The agent is the leaf call's agent; the task cluster its cluster in the
-- task view (trajectory_clusters), 'unclustered' when it has none.
with

units as (
    select * from {{ ref('trajectory_units') }}
),

nodes as (
    select * from {{ ref('conversation_branch_nodes') }}
),

clusters as (
    select * from {{ ref('trajectory_clusters') }}
    where view = 'task'
),

feedback as (
    select * from {{ ref('int_feedback_tenants_resolved') }}
),

human_labels as (
    select * from {{ ref('human_eval_labels') }}
),

path_nodes as (
    select
        units.trajectory_id,
        units.tenant_id,
        unnest(from_json(units.node_ids, '["VARCHAR"]')) as node_id
    from units
),

human_reviews as (
    select distinct
        trajectory_id,
        reviewer_id,
        feedback_id,
        quality_score
    from human_labels
    where quality_score is not null
),

human_scores as (
    select
        trajectory_id,
        avg(quality_score) as human_score,
        count(*) as human_evidence,
        cast(to_json(list(feedback_id order by feedback_id)) as varchar) as human_feedback_ids
    from human_reviews
    group by trajectory_id
),

judge_latest as (
    select
        units.trajectory_id,
        feedback.feedback_id,
        feedback.completion_quality,
        row_number() over (
            partition by
                units.trajectory_id,
                coalesce(json_extract_string(feedback.metadata_json, '$.judge_model'), '')
            order by feedback.created_at desc, feedback.feedback_id desc
        ) as recency
    from units
    inner join feedback
        on
            units.leaf_node_id = feedback.request_id
            and units.tenant_id = feedback.tenant_id
    where feedback.feedback_source = 'judge' and feedback.completion_quality is not null
),

judge_scores as (
    select
        trajectory_id,
        avg(completion_quality) as judge_score,
        count(*) as judge_evidence,
        cast(to_json(list(feedback_id order by feedback_id)) as varchar) as judge_feedback_ids
    from judge_latest
    where recency = 1
    group by trajectory_id
),

auto_scores as (
    select
        path_nodes.trajectory_id,
        coalesce(
            avg(feedback.completion_quality),
            avg({{ trellis.rating_quality_score('feedback.rating') }}),
            arg_max(
                {{ trellis.outcome_quality_score('feedback.outcome') }},
                feedback.created_at
            )
        ) as auto_score,
        count(*) as auto_evidence,
        cast(to_json(list(feedback.feedback_id order by feedback.feedback_id)) as varchar) as auto_feedback_ids
    from path_nodes
    inner join feedback
        on
            path_nodes.node_id = feedback.request_id
            and path_nodes.tenant_id = feedback.tenant_id
    where feedback.feedback_source in ('auto', 'user')
    group by path_nodes.trajectory_id
),

scored as (
    select
        units.trajectory_id,
        units.leaf_node_id,
        units.root_node_id,
        units.tenant_id,
        leaf.agent_id,
        coalesce(clusters.cluster_id, 'unclustered') as task_cluster_id,
        units.node_ids,
        units.final_status,
        case
            when human_scores.human_score is not null then 'human'
            when judge_scores.judge_score is not null then 'judge'
            when auto_scores.auto_score is not null then 'auto'
            else 'none'
        end as score_source,
        cast(human_scores.human_score as double) as human_score,
        cast(judge_scores.judge_score as double) as judge_score,
        cast(auto_scores.auto_score as double) as auto_score,
        cast(coalesce(
            human_scores.human_score, judge_scores.judge_score, auto_scores.auto_score
        ) as double) as quality_score,
        cast(case
            when human_scores.human_score is not null then human_scores.human_evidence
            when judge_scores.judge_score is not null then judge_scores.judge_evidence
            when auto_scores.auto_score is not null then auto_scores.auto_evidence
            else 0
        end as bigint) as evidence_count,
        case
            when human_scores.human_score is not null then human_scores.human_feedback_ids
            when judge_scores.judge_score is not null then judge_scores.judge_feedback_ids
            when auto_scores.auto_score is not null then auto_scores.auto_feedback_ids
            else '[]'
        end as evidence_feedback_ids,
        units.leaf_created_at
    from units
    inner join nodes as leaf
        on
            units.leaf_node_id = leaf.node_id
            and units.tenant_id = leaf.tenant_id
    left join clusters on units.trajectory_id = clusters.trajectory_id
    left join human_scores on units.trajectory_id = human_scores.trajectory_id
    left join judge_scores on units.trajectory_id = judge_scores.trajectory_id
    left join auto_scores on units.trajectory_id = auto_scores.trajectory_id
)

select * from scored
