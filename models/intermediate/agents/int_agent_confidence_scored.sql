-- One row per agent x model x UTC day: the agent's confidence score, by the
-- recursion documented in _agents__models.yml (w = confidence_prior_weight,
-- delta = confidence_idle_decay):
--   S(-1)  = G(d0)                                  (start from the global score)
--   day with n > 0 calls, x successes: S(d) = (w * S(d-1) + x) / (w + n)
--   idle day:                          S(d) = G(d) + (1 - delta) * (S(d-1) - G(d))
with recursive

days as (
    select * from {{ ref('int_agent_model_days_observed') }}
),

recursed (agent_id, model, day_index, score_date, confidence_score) as (
    select
        agent_id,
        model,
        cast(day_index as integer) as day_index,
        score_date,
        cast(
            (
                {{ var('confidence_prior_weight') }} * global_confidence_score
                + cast(success_count as double precision)
            )
            / ({{ var('confidence_prior_weight') }} + cast(observation_count as double precision))
            as double precision
        ) as confidence_score
    from days
    where day_index = 0

    union all

    select
        days.agent_id,
        days.model,
        cast(days.day_index as integer) as day_index,
        days.score_date,
        cast(
            case
                when days.observation_count > 0
                    then (
                        {{ var('confidence_prior_weight') }} * recursed.confidence_score
                        + cast(days.success_count as double precision)
                    )
                    / ({{ var('confidence_prior_weight') }} + cast(days.observation_count as double precision))
                else
                    days.global_confidence_score
                    + (1.0 - {{ var('confidence_idle_decay') }})
                    * (recursed.confidence_score - days.global_confidence_score)
            end as double precision
        ) as confidence_score
    from recursed
    inner join days
        on
            recursed.agent_id = days.agent_id
            and recursed.model = days.model
            and recursed.day_index + 1 = days.day_index
)

select * from recursed
