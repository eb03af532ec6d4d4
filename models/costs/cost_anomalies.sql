with

daily_costs as (
    select * from {{ ref('daily_agent_costs') }}
),

baselined as (
    select
        agent_id,
        cost_date,
        cost_usd,
        call_count,
        avg(cost_usd) over baseline as baseline_mean_usd,
        stddev_samp(cost_usd) over baseline as baseline_stddev_usd,
        count(cost_usd) over baseline as baseline_day_count
    from daily_costs
    window baseline as (
        partition by agent_id order by cost_date
        rows between {{ var('cost_anomaly_window_days') }} preceding and 1 preceding
    )
),

judged as (
    select
        agent_id,
        cost_usd,
        call_count,
        baseline_mean_usd,
        coalesce(baseline_stddev_usd, 0.0) as baseline_stddev_usd,
        baseline_mean_usd
        + {{ var('cost_anomaly_stddevs') }} * coalesce(baseline_stddev_usd, 0.0) as threshold_usd,
        cost_usd - baseline_mean_usd as excess_over_mean_usd,
        cast(baseline_day_count as integer) as baseline_day_count,
        cost_date
    from baselined
    where baseline_day_count >= {{ var('cost_anomaly_min_baseline_days') }}
),

anomalous as (
    select * from judged
    where cost_usd > threshold_usd
)

select * from anomalous
