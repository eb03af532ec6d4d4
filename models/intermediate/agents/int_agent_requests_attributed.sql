-- One row per request with what the agent marts need: its outcome (the latest
-- feedback when present, else the request status), fallback use, feedback
-- quality and rating, and its cost.
with

requests as (
    select * from {{ ref('stg_gateway__requests') }}
),

feedback as (
    select * from {{ ref('int_request_feedback_summarized') }}
),

costs as (
    select * from {{ ref('int_request_costs_priced') }}
),

attributed as (
    select
        requests.request_id,
        requests.tenant_id,
        requests.agent_id,
        requests.model,
        costs.billed_model,
        requests.provider,
        costs.model_tier,
        requests.request_status,
        coalesce(feedback.feedback_outcome, requests.request_status) as outcome,
        case when feedback.feedback_outcome is null then 'status' else 'feedback' end as outcome_source,
        costs.cost_source,
        requests.latency_ms,
        requests.ttft_ms,
        requests.prompt_tokens,
        requests.cached_tokens,
        requests.completion_tokens,
        costs.cost_usd,
        feedback.completion_quality,
        feedback.rating,
        coalesce(feedback.feedback_count, 0) as feedback_count,
        requests.is_fallback or coalesce(feedback.feedback_outcome = 'fallback', false) as is_fallback_used,
        costs.is_priced,
        requests.created_at,
        cast(requests.created_at at time zone 'UTC' as date) as call_date,
        date_trunc('hour', requests.created_at at time zone 'UTC') at time zone 'UTC' as call_hour_at
    from requests
    inner join costs
        on
            requests.request_id = costs.request_id
            and requests.tenant_id = costs.tenant_id
    left join feedback
        on
            requests.request_id = feedback.request_id
            and requests.tenant_id = feedback.tenant_id
)

select * from attributed
