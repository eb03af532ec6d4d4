with

calls as (
    select * from {{ ref('int_agent_requests_attributed') }}
),

exported as (
    select
        request_id,
        tenant_id,
        {{ trellis.export_agent_id('agent_id') }} as agent_id,
        model,
        billed_model,
        provider,
        model_tier,
        request_status,
        outcome,
        outcome_source,
        cost_source,
        latency_ms,
        ttft_ms,
        prompt_tokens,
        cached_tokens,
        completion_tokens,
        cost_usd,
        completion_quality,
        rating,
        feedback_count,
        is_fallback_used,
        is_priced,
        created_at
    from calls
)

select * from exported
