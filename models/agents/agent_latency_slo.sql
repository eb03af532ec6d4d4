with

calls as (
    select * from {{ ref('int_agent_requests_attributed') }}
),

policies as (
    select * from {{ ref('int_agent_policies_resolved') }}
),

hourly as (
    select
        agent_id,
        call_hour_at,
        count(*) as call_count,
        count(latency_ms) as latency_sample_count,
        {{ trellis.percentile_cont('latency_ms', 0.5) }} as p50_latency_ms,
        {{ trellis.percentile_cont('latency_ms', 0.95) }} as p95_latency_ms,
        {{ trellis.percentile_cont('latency_ms', 0.99) }} as p99_latency_ms
    from calls
    group by agent_id, call_hour_at
),

judged as (
    select
        hourly.agent_id,
        policies.latency_slo_percentile,
        hourly.call_count,
        hourly.latency_sample_count,
        hourly.p50_latency_ms,
        hourly.p95_latency_ms,
        hourly.p99_latency_ms,
        policies.latency_slo_ms,
        coalesce(
            case policies.latency_slo_percentile
                when 'p50' then hourly.p50_latency_ms
                when 'p95' then hourly.p95_latency_ms
                when 'p99' then hourly.p99_latency_ms
            end > policies.latency_slo_ms,
            false
        ) as is_slo_breached,
        hourly.call_hour_at
    from hourly
    inner join policies
        on hourly.agent_id = policies.agent_id
)

select * from judged
