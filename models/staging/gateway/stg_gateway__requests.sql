{{
    config(
        materialized='incremental',
        unique_key=['request_id', 'tenant_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{%- set fields = [
    {'name': 'agent_id', 'path': ['agent_id'], 'type': 'text'},
    {'name': 'session_id', 'path': ['session_id'], 'type': 'text'},
    {'name': 'parent_request_id', 'path': ['parent_request_id'], 'type': 'text'},
    {'name': 'trace_id', 'path': ['trace_id'], 'type': 'text'},
    {'name': 'parent_trace_id', 'path': ['parent_trace_id'], 'type': 'text'},
    {'name': 'saga_id', 'path': ['saga_id'], 'type': 'text'},
    {'name': 'model', 'path': ['model'], 'type': 'text'},
    {'name': 'served_model', 'path': ['served_model'], 'type': 'text'},
    {'name': 'provider', 'path': ['provider'], 'type': 'text'},
    {'name': 'endpoint', 'path': ['endpoint'], 'type': 'text'},
    {'name': 'reported_status', 'path': ['status'], 'type': 'text'},
    {'name': 'error_code', 'path': ['error', 'code'], 'type': 'text'},
    {'name': 'error_message', 'path': ['error', 'message'], 'type': 'text'},
    {'name': 'error_http_status', 'path': ['error', 'http_status'], 'type': 'integer'},
    {'name': 'response_id', 'path': ['response', 'id'], 'type': 'text'},
    {'name': 'finish_reason', 'path': ['response', 'choices', 0, 'finish_reason'], 'type': 'text'},
    {'name': 'reply_role', 'path': ['response', 'choices', 0, 'message', 'role'], 'type': 'text'},
    {'name': 'reply_content', 'path': ['response', 'choices', 0, 'message', 'content'], 'type': 'json'},
    {'name': 'reply_tool_calls_json', 'path': ['response', 'choices', 0, 'message', 'tool_calls'], 'type': 'json'},
    {'name': 'usage_prompt_tokens', 'path': ['response', 'usage', 'prompt_tokens'], 'type': 'bigint'},
    {'name': 'usage_completion_tokens', 'path': ['response', 'usage', 'completion_tokens'], 'type': 'bigint'},
    {'name': 'usage_cached_tokens', 'path': ['response', 'usage', 'prompt_tokens_details', 'cached_tokens'], 'type': 'bigint'},
    {'name': 'usage_cache_read_input_tokens', 'path': ['response', 'usage', 'cache_read_input_tokens'], 'type': 'bigint'},
    {'name': 'fallback_used_flag', 'path': ['fallback', 'used'], 'type': 'boolean'},
    {'name': 'fallback_from_model', 'path': ['fallback', 'from_model'], 'type': 'text'},
    {'name': 'fallback_reason', 'path': ['fallback', 'reason'], 'type': 'text'},
    {'name': 'prompt_template_id', 'path': ['prompt', 'template_id'], 'type': 'text'},
    {'name': 'prompt_template_version', 'path': ['prompt', 'version'], 'type': 'text'},
    {'name': 'prompt_hash', 'path': ['prompt', 'hash'], 'type': 'text'},
    {'name': 'prompt_redaction_flag', 'path': ['prompt', 'redaction_applied'], 'type': 'boolean'},
    {'name': 'agent_config_id', 'path': ['agent_config', 'id'], 'type': 'text'},
    {'name': 'agent_config_version', 'path': ['agent_config', 'version'], 'type': 'text'},
    {'name': 'declared_branch_kind', 'path': ['branch', 'kind'], 'type': 'text'},
    {'name': 'replay_of_request_id', 'path': ['branch', 'replay_of_request_id'], 'type': 'text'},
    {'name': 'cohort_id', 'path': ['branch', 'cohort_id'], 'type': 'text'},
    {'name': 'variant_config', 'path': ['branch', 'variant_config'], 'type': 'json'},
    {'name': 'tools_json', 'path': ['request', 'tools'], 'type': 'json'},
    {'name': 'tool_choice_json', 'path': ['request', 'tool_choice'], 'type': 'json'},
    {'name': 'stop_json', 'path': ['request', 'stop'], 'type': 'json'},
    {'name': 'temperature', 'path': ['request', 'temperature'], 'type': 'double'},
    {'name': 'top_p', 'path': ['request', 'top_p'], 'type': 'double'},
    {'name': 'max_tokens', 'path': ['request', 'max_tokens'], 'type': 'bigint'},
    {'name': 'sampling_seed', 'path': ['request', 'seed'], 'type': 'bigint'},
    {'name': 'n_choices', 'path': ['request', 'n'], 'type': 'integer'},
    {'name': 'reported_latency_ms', 'path': ['latency_ms'], 'type': 'double'},
    {'name': 'ttft_ms', 'path': ['ttft_ms'], 'type': 'double'},
    {'name': 'reported_cost_usd', 'path': ['cost_usd'], 'type': 'double'},
    {'name': 'completed_at_text', 'path': ['completed_at'], 'type': 'text'},
    {'name': 'metadata_json', 'path': ['metadata'], 'type': 'json'},
] -%}

with

source as (
    select * from {{ source('gateway', 'requests') }}
    {% if is_incremental() %}
        where ingested_at > {{ trellis.stored_watermark('ingested_at') }}
    {% endif %}
),

parsed as (
    select
        request_id,
        tenant_id,
        created_at,
        ingested_at,
        {{ trellis.json_fields_parse('record', fields) }}
    from source
),

renamed as (
    select
        parsed.request_id,
        parsed.tenant_id,
        parsed.created_at,
        parsed.ingested_at,
        {{ trellis.json_fields_select(fields) }}
    from parsed
),

normalized as (
    select
        request_id,
        tenant_id,
        coalesce(agent_id, 'unknown') as agent_id,
        session_id,
        parent_request_id,
        trace_id,
        parent_trace_id,
        saga_id,
        model,
        served_model,
        provider,
        endpoint,
        coalesce(reported_status, case when reply_role is not null then 'success' else 'error' end)
            as request_status,
        error_code,
        error_message,
        response_id,
        finish_reason,
        reply_role,
        case when reply_role is not null then {{ trellis.json_content_text('reply_content') }} end as reply_text,
        fallback_from_model,
        fallback_reason,
        prompt_template_id,
        prompt_template_version,
        prompt_hash,
        agent_config_id,
        agent_config_version,
        declared_branch_kind,
        replay_of_request_id,
        cohort_id,
        variant_config,
        tools_json,
        tool_choice_json,
        stop_json,
        reply_tool_calls_json,
        metadata_json,
        error_http_status,
        temperature,
        top_p,
        max_tokens,
        sampling_seed,
        n_choices,
        coalesce({{ trellis.json_array_length_of_text('reply_tool_calls_json') }}, 0) as reply_tool_call_count,
        -- OpenAI convention: prompt tokens include cached tokens. A source that
        -- reports cached tokens separately (Anthropic's cache_read_input_tokens)
        -- is converted so no token is billed twice.
        case
            when usage_cache_read_input_tokens is not null and usage_cached_tokens is null
                then coalesce(usage_prompt_tokens, 0) + usage_cache_read_input_tokens
            else coalesce(usage_prompt_tokens, 0)
        end as prompt_tokens,
        coalesce(usage_cached_tokens, usage_cache_read_input_tokens, 0) as cached_tokens,
        coalesce(usage_completion_tokens, 0) as completion_tokens,
        coalesce(
            reported_latency_ms,
            {{ trellis.milliseconds_between('created_at', 'cast(completed_at_text as timestamptz)') }}
        ) as latency_ms,
        ttft_ms,
        reported_cost_usd,
        coalesce(fallback_used_flag, reported_status = 'fallback', false) as is_fallback,
        coalesce(prompt_redaction_flag, false) as is_prompt_redacted,
        reply_role is not null as has_response,
        created_at,
        cast(completed_at_text as timestamptz) as completed_at,
        ingested_at
    from renamed
)

select * from normalized
