-- One row per agent x model x UTC day, from the agent's first observed call to
-- that model until the last day of traffic: the day's observations and
-- successes (zero on idle days), the model's global score that day, and
-- day_index (0 on the first day), the step of the confidence recursion.
with

agent_model_days as (
    select * from {{ ref('int_agent_model_calls_daily') }}
),

global_scores as (
    select * from {{ ref('int_model_confidence_scored') }}
),

pairs_first_seen as (
    select
        agent_id,
        model,
        min(call_date) as first_date
    from agent_model_days
    group by agent_id, model
),

densified as (
    select
        pairs_first_seen.agent_id,
        pairs_first_seen.model,
        global_scores.score_date,
        cast(global_scores.score_date - pairs_first_seen.first_date as integer) as day_index,
        coalesce(agent_model_days.observation_count, 0) as observation_count,
        coalesce(agent_model_days.success_count, 0) as success_count,
        global_scores.global_confidence_score
    from pairs_first_seen
    inner join global_scores
        on
            pairs_first_seen.model = global_scores.model
            and pairs_first_seen.first_date <= global_scores.score_date
    left join agent_model_days
        on
            pairs_first_seen.agent_id = agent_model_days.agent_id
            and pairs_first_seen.model = agent_model_days.model
            and global_scores.score_date = agent_model_days.call_date
),

accumulated as (
    select
        *,
        cast(sum(observation_count) over history as bigint) as cumulative_observation_count,
        max(case when observation_count > 0 then score_date end) over history as last_observed_date
    from densified
    window history as (
        partition by agent_id, model order by score_date rows between unbounded preceding and current row
    )
)

select * from accumulated
