-- One row per trajectory and category a rule assigns it, from facts alone
-- (each rule and its vars are documented in _int_evaluation__labels.yml):
--   1. tool_misuse: a tool call repeated identically (name and arguments)
--      label_tool_repeat_min times or more on the path, or a call whose
--      arguments are not valid JSON.
--   2. hallucination: a call to a tool the request did not declare.
--   3. good_recovery: a node that failed (error, timeout, cancelled) followed
--      by a successful end of the path.
--   4. overlong: a node whose completion tokens exceed the
--      label_overlong_quantile of its agent's successful answers (agents with
--      label_overlong_min_agent_nodes of them or more).
--   5. underspecified: a user turn that restates the previous one, or a node
--      answering an edited prompt (prompt_variant).
--   6. tool_helped: tools called, every node succeeded, no tool_misuse or
--      hallucination, and no negative feedback on the path.
--   7. stable_high_quality: every node succeeded with no retry, no negative
--      feedback, the mean quality of the path's feedback at least
--      label_good_quality_min, and none of rules 1, 2, 4, 5.
-- Feedback means gateway facts (source auto or user); judges and humans have
-- layers of their own. Negative: user_rejected, rating -1, or quality at most
-- label_bad_quality_max. A rule label's confidence is 1: a rule holds or not.

with

trajectories as (
    select * from {{ ref('trajectory_units') }}
),

steps as (
    select * from {{ ref('int_trajectory_steps_described') }}
),

tool_calls as (
    select * from {{ ref('int_trajectory_tool_calls_listed') }}
),

feedback as (
    select * from {{ ref('int_feedback_tenants_resolved') }}
    where feedback_source in ('auto', 'user')
),

path_feedback as (
    select
        steps.trajectory_id,
        avg(feedback.completion_quality) as mean_quality,
        count(feedback.completion_quality) as quality_count,
        list(distinct steps.node_id order by steps.node_id) filter (
            where
            feedback.outcome = 'user_rejected'
            or feedback.rating = -1
            or feedback.completion_quality <= {{ var('label_bad_quality_max') }}
        ) as negative_nodes
    from steps
    inner join feedback
        on
            steps.node_id = feedback.request_id
            and steps.tenant_id = feedback.tenant_id
    group by steps.trajectory_id
),

repeated_calls as (
    select
        trajectory_id,
        node_id
    from (
        select
            trajectory_id,
            node_id,
            count(*) over (partition by trajectory_id, tool_name, tool_arguments) as repeats
        from tool_calls
    ) as counted
    where repeats >= {{ var('label_tool_repeat_min') }}
),

misuse as (
    select
        trajectory_id,
        'tool_misuse' as category,
        'repeated identical tool call or invalid arguments' as rule,
        list(distinct node_id order by node_id) as evidence_nodes
    from (
        select
            trajectory_id,
            node_id
        from repeated_calls
        union all
        select
            trajectory_id,
            node_id
        from tool_calls
        where not has_valid_arguments
    ) as misused
    group by trajectory_id
),

hallucinated as (
    select
        trajectory_id,
        'hallucination' as category,
        'call to a tool the request did not declare' as rule,
        list(distinct node_id order by node_id) as evidence_nodes
    from tool_calls
    where not is_declared
    group by trajectory_id
),

recovered as (
    select
        steps.trajectory_id,
        'good_recovery' as category,
        'failed node followed by a successful end' as rule,
        list(distinct steps.node_id order by steps.node_id) as evidence_nodes
    from steps
    inner join trajectories on steps.trajectory_id = trajectories.trajectory_id
    where
        trajectories.final_status = 'success'
        and not steps.is_leaf_step
        and steps.node_status in ('error', 'timeout', 'cancelled')
    group by steps.trajectory_id
),

agent_baselines as (
    select
        agent_id,
        quantile_cont(completion_tokens, {{ var('label_overlong_quantile') }}) as overlong_tokens
    from (
        select distinct
            node_id,
            agent_id,
            completion_tokens
        from steps
        where node_status = 'success'
    ) as answers
    group by agent_id
    having count(*) >= {{ var('label_overlong_min_agent_nodes') }}
),

overlong as (
    select
        steps.trajectory_id,
        'overlong' as category,
        'completion tokens above the agent''s quantile' as rule,
        list(distinct steps.node_id order by steps.node_id) as evidence_nodes
    from steps
    inner join agent_baselines on steps.agent_id = agent_baselines.agent_id
    where steps.completion_tokens > agent_baselines.overlong_tokens
    group by steps.trajectory_id
),

underspecified as (
    select
        trajectory_id,
        'underspecified' as category,
        'user turn restating the previous one, or an edited prompt' as rule,
        list(distinct node_id order by node_id) as evidence_nodes
    from steps
    where is_restated_ask or branch_kind = 'prompt_variant'
    group by trajectory_id
),

flagged as (
    select * from misuse
    union all
    select * from hallucinated
    union all
    select * from overlong
    union all
    select * from underspecified
),

tool_helped as (
    select
        trajectories.trajectory_id,
        'tool_helped' as category,
        'tools called, every node succeeded, no misuse, no negative feedback' as rule,
        list(distinct tool_calls.node_id order by tool_calls.node_id) as evidence_nodes
    from trajectories
    inner join tool_calls on trajectories.trajectory_id = tool_calls.trajectory_id
    left join path_feedback on trajectories.trajectory_id = path_feedback.trajectory_id
    where
        trajectories.final_status = 'success'
        and trajectories.error_count = 0
        and coalesce(len(path_feedback.negative_nodes), 0) = 0
        and not exists (
            select 1 from flagged
            where
                flagged.trajectory_id = trajectories.trajectory_id
                and flagged.category in ('tool_misuse', 'hallucination')
        )
    group by trajectories.trajectory_id
),

stable as (
    select
        trajectories.trajectory_id,
        'stable_high_quality' as category,
        'every node succeeded, no retry, good feedback, no flag' as rule,
        [trajectories.leaf_node_id] as evidence_nodes
    from trajectories
    inner join path_feedback on trajectories.trajectory_id = path_feedback.trajectory_id
    where
        trajectories.final_status = 'success'
        and trajectories.error_count = 0
        and trajectories.retry_count = 0
        and coalesce(len(path_feedback.negative_nodes), 0) = 0
        and path_feedback.quality_count > 0
        and path_feedback.mean_quality >= {{ var('label_good_quality_min') }}
        and not exists (
            select 1 from flagged
            where flagged.trajectory_id = trajectories.trajectory_id
        )
),

ruled as (
    select * from flagged
    union all
    select * from recovered
    union all
    select * from tool_helped
    union all
    select * from stable
),

labeled as (
    select
        ruled.trajectory_id,
        ruled.category,
        ruled.rule,
        ruled.evidence_nodes,
        trajectories.resolved_at as labeled_at
    from ruled
    inner join trajectories on ruled.trajectory_id = trajectories.trajectory_id
)

select * from labeled
