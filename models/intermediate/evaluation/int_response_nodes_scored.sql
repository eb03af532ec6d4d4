-- One row per member of a response group and score source that scores it, on
-- the 0-10 quality scale:
--   1. human: each reviewer's latest completion_quality on the node (feedback
--      with source human), averaged over reviewers.
--   2. judge: each judge model's latest completion_quality on the node
--      (source judge; a parse error leaves no score), averaged over judges.
--   3. auto: the gateway's facts (source auto or user): the mean
--      completion_quality when any; else the mean rating mapped +1 -> 10,
--      -1 -> 0; else the latest outcome mapped success -> 7, fallback -> 5,
--      user_rejected, error, timeout -> 0; else, with no feedback at all, a
--      call that failed (error, timeout, cancelled) -> 0.
-- scored_at is the latest feedback behind the score (the call's creation for
-- a failure without feedback).

with

members as (
    select * from {{ ref('response_branch_records') }}
),

feedback as (
    select * from {{ ref('int_feedback_tenants_resolved') }}
),

latest_scores as (
    select
        feedback.request_id as node_id,
        feedback.tenant_id,
        feedback.feedback_source,
        coalesce(
            feedback.reviewer_id,
            json_extract_string(feedback.metadata_json, '$.judge_model'),
            feedback.agent_id,
            ''
        ) as scorer,
        feedback.completion_quality,
        feedback.created_at,
        row_number() over (
            partition by
                feedback.request_id,
                feedback.tenant_id,
                feedback.feedback_source,
                coalesce(
                    feedback.reviewer_id,
                    json_extract_string(feedback.metadata_json, '$.judge_model'),
                    feedback.agent_id,
                    ''
                )
            order by feedback.created_at desc, feedback.feedback_id desc
        ) as recency
    from feedback
    inner join members
        on
            feedback.request_id = members.node_id
            and feedback.tenant_id = members.tenant_id
    where
        feedback.feedback_source in ('human', 'judge')
        and feedback.completion_quality is not null
),

ranked_scores as (
    select
        node_id,
        tenant_id,
        feedback_source as score_source,
        avg(completion_quality) as score,
        max(created_at) as scored_at
    from latest_scores
    where recency = 1
    group by node_id, tenant_id, feedback_source
),

gateway_feedback as (
    select
        feedback.request_id as node_id,
        feedback.tenant_id,
        avg(feedback.completion_quality) as mean_quality,
        avg({{ trellis.rating_quality_score('feedback.rating') }}) as mean_rating_score,
        arg_max(
            {{ trellis.outcome_quality_score('feedback.outcome') }},
            feedback.created_at
        ) as latest_outcome_score,
        max(feedback.created_at) as scored_at
    from feedback
    inner join members
        on
            feedback.request_id = members.node_id
            and feedback.tenant_id = members.tenant_id
    where feedback.feedback_source in ('auto', 'user')
    group by feedback.request_id, feedback.tenant_id
),

auto_scores as (
    select
        members.node_id,
        members.tenant_id,
        'auto' as score_source,
        coalesce(
            gateway_feedback.mean_quality,
            gateway_feedback.mean_rating_score,
            gateway_feedback.latest_outcome_score,
            case when members.request_status in ('error', 'timeout', 'cancelled') then 0.0 end
        ) as score,
        coalesce(gateway_feedback.scored_at, members.created_at) as scored_at
    from members
    left join gateway_feedback
        on
            members.node_id = gateway_feedback.node_id
            and members.tenant_id = gateway_feedback.tenant_id
),

scored as (
    select * from ranked_scores
    union all
    select * from auto_scores
    where score is not null
),

final as (
    select
        scored.node_id,
        members.response_group_id,
        members.context_anchor_node_id as parent_node_id,
        members.tenant_id,
        scored.score_source,
        cast(scored.score as double) as score,
        case scored.score_source when 'human' then 3 when 'judge' then 2 else 1 end as source_rank,
        scored.scored_at
    from scored
    inner join members
        on
            scored.node_id = members.node_id
            and scored.tenant_id = members.tenant_id
)

select * from final
