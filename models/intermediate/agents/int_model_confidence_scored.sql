-- One row per model x UTC day, from the model's first observed call to the last
-- day of traffic: the global confidence that the model serves callers well, the
-- Laplace-smoothed success share of all agents' calls over a trailing window:
-- (successes + 1) / (observations + 2). An observation is a call whose outcome
-- is not 'cancelled'; a success is outcome 'success'.
with

agent_model_days as (
    select * from {{ ref('int_agent_model_calls_daily') }}
),

days as (
    select * from {{ ref('int_days_spined') }}
),

model_days as (
    select
        model,
        call_date,
        cast(sum(observation_count) as bigint) as observation_count,
        cast(sum(success_count) as bigint) as success_count
    from agent_model_days
    group by model, call_date
),

models_first_seen as (
    select
        model,
        min(call_date) as first_date
    from model_days
    group by model
),

model_days_dense as (
    select
        models_first_seen.model,
        days.spine_date,
        coalesce(model_days.observation_count, 0) as observation_count,
        coalesce(model_days.success_count, 0) as success_count
    from models_first_seen
    inner join days
        on models_first_seen.first_date <= days.spine_date
    left join model_days
        on
            models_first_seen.model = model_days.model
            and days.spine_date = model_days.call_date
),

windowed as (
    select
        model,
        spine_date,
        observation_count,
        success_count,
        cast(sum(observation_count) over trailing_window as bigint) as window_observation_count,
        cast(sum(success_count) over trailing_window as bigint) as window_success_count
    from model_days_dense
    window trailing_window as (
        partition by model order by spine_date
        rows between {{ var('confidence_global_window_days') - 1 }} preceding and current row
    )
),

scored as (
    select
        model,
        spine_date as score_date,
        observation_count,
        success_count,
        window_observation_count,
        window_success_count,
        (cast(window_success_count as double precision) + 1.0)
        / (cast(window_observation_count as double precision) + 2.0) as global_confidence_score
    from windowed
)

select * from scored
