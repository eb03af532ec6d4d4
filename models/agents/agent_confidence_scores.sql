with

days as (
    select * from {{ ref('int_agent_model_days_observed') }}
),

scores as (
    select * from {{ ref('int_agent_confidence_scored') }}
),

joined as (
    select
        days.agent_id,
        days.model,
        days.score_date,
        days.observation_count,
        days.success_count,
        days.cumulative_observation_count,
        cast(days.score_date - days.last_observed_date as integer) as days_since_last_observation,
        scores.confidence_score as agent_confidence_score,
        days.global_confidence_score,
        scores.confidence_score - days.global_confidence_score as confidence_divergence,
        days.observation_count > 0 as is_observed_day
    from days
    inner join scores
        on
            days.agent_id = scores.agent_id
            and days.model = scores.model
            and days.score_date = scores.score_date
)

select * from joined
