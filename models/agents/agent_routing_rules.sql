with

scores as (
    select * from {{ ref('agent_confidence_scores') }}
),

policies as (
    select * from {{ ref('int_agent_policies_resolved') }}
),

latest_scores as (
    select *
    from scores
    where score_date = (select max(all_scores.score_date) from scores as all_scores)
),

policy_fallbacks as (
    select
        agent_id,
        fallback_model_1 as model,
        1 as fallback_preference
    from policies
    where fallback_model_1 is not null
    union all
    select
        agent_id,
        fallback_model_2 as model,
        2 as fallback_preference
    from policies
    where fallback_model_2 is not null
    union all
    select
        agent_id,
        fallback_model_3 as model,
        3 as fallback_preference
    from policies
    where fallback_model_3 is not null
),

candidates as (
    select
        coalesce(latest_scores.agent_id, policy_fallbacks.agent_id) as agent_id,
        coalesce(latest_scores.model, policy_fallbacks.model) as model,
        latest_scores.agent_confidence_score,
        latest_scores.global_confidence_score,
        coalesce(latest_scores.cumulative_observation_count, 0) as cumulative_observation_count,
        policy_fallbacks.fallback_preference,
        latest_scores.score_date
    from latest_scores
    full outer join policy_fallbacks
        on
            latest_scores.agent_id = policy_fallbacks.agent_id
            and latest_scores.model = policy_fallbacks.model
),

gated as (
    select
        candidates.*,
        policies.confidence_gate,
        coalesce(candidates.agent_confidence_score >= policies.confidence_gate, false) as is_eligible
    from candidates
    inner join policies
        on candidates.agent_id = policies.agent_id
),

ranked as (
    select
        *,
        sum(case when is_eligible then 1 else 0 end) over (partition by agent_id) as eligible_count,
        case
            when is_eligible
                then row_number() over (
                    partition by agent_id, is_eligible
                    order by agent_confidence_score desc, model asc
                )
        end as eligible_rank,
        case
            when not is_eligible and fallback_preference is not null
                then row_number() over (
                    partition by agent_id, (not is_eligible and fallback_preference is not null)
                    order by fallback_preference asc
                )
        end as policy_fallback_rank
    from gated
),

routed as (
    select
        agent_id,
        model,
        case
            when coalesce(eligible_rank, eligible_count + policy_fallback_rank) = 1 then 'primary'
            when coalesce(eligible_rank, policy_fallback_rank) is not null then 'fallback'
            else 'excluded'
        end as route_role,
        case
            when is_eligible then 'agent confidence at or above the gate'
            when fallback_preference is not null and agent_confidence_score is null
                then
                    'policy fallback preference '
                    || cast(fallback_preference as varchar) || ', no observations by this agent'
            when fallback_preference is not null
                then
                    'policy fallback preference '
                    || cast(fallback_preference as varchar) || ', agent confidence below the gate'
            else 'agent confidence below the gate'
        end as route_reason,
        cast(coalesce(eligible_rank, eligible_count + policy_fallback_rank) as integer) as route_rank,
        cast(fallback_preference as integer) as fallback_preference,
        agent_confidence_score,
        global_confidence_score,
        confidence_gate,
        cumulative_observation_count,
        is_eligible,
        (select max(latest_scores.score_date) from latest_scores) as scored_as_of_date
    from ranked
)

select * from routed
