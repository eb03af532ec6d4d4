{{
    config(
        materialized='incremental',
        unique_key='request_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

with

source as (
    select * from {{ source('gateway', 'requests') }}
    {% if is_incremental() %}
        where ingested_at > (select max(this.ingested_at) from {{ this }} as this)
    {% endif %}
),

renamed as (
    select
        request_id,
        tenant_id,
        coalesce({{ trellis.json_text('record', ['agent_id']) }}, 'unknown') as agent_id,
        {{ trellis.json_text('record', ['session_id']) }} as session_id,
        {{ trellis.json_text('record', ['parent_request_id']) }} as parent_request_id,
        {{ trellis.json_text('record', ['trace_id']) }} as trace_id,
        {{ trellis.json_text('record', ['parent_trace_id']) }} as parent_trace_id,
        {{ trellis.json_text('record', ['saga_id']) }} as saga_id,
        {{ trellis.json_text('record', ['model']) }} as model,
        {{ trellis.json_text('record', ['served_model']) }} as served_model,
        {{ trellis.json_text('record', ['provider']) }} as provider,
        {{ trellis.json_text('record', ['endpoint']) }} as endpoint,
        {{ trellis.json_text('record', ['status']) }} as reported_status,
        {{ trellis.json_text('record', ['error', 'code']) }} as error_code,
        {{ trellis.json_text('record', ['error', 'message']) }} as error_message,
        {{ trellis.json_text('record', ['response', 'id']) }} as response_id,
        {{ trellis.json_text('record', ['response', 'choices', 0, 'finish_reason']) }} as finish_reason,
        {{ trellis.json_text('record', ['response', 'choices', 0, 'message', 'role']) }} as reply_role,
        {{ trellis.message_content_text(trellis.json_value('record', ['response', 'choices', 0, 'message'])) }}
            as reply_text,
        {{ trellis.json_text('record', ['fallback', 'from_model']) }} as fallback_from_model,
        {{ trellis.json_text('record', ['fallback', 'reason']) }} as fallback_reason,
        {{ trellis.json_text('record', ['prompt', 'template_id']) }} as prompt_template_id,
        {{ trellis.json_text('record', ['prompt', 'version']) }} as prompt_template_version,
        {{ trellis.json_text('record', ['prompt', 'hash']) }} as prompt_hash,
        {{ trellis.json_text('record', ['agent_config', 'id']) }} as agent_config_id,
        {{ trellis.json_text('record', ['agent_config', 'version']) }} as agent_config_version,
        {{ trellis.json_text('record', ['branch', 'kind']) }} as declared_branch_kind,
        {{ trellis.json_text('record', ['branch', 'replay_of_request_id']) }} as replay_of_request_id,
        {{ trellis.json_text('record', ['branch', 'cohort_id']) }} as cohort_id,
        {{ trellis.json_to_text(trellis.json_value('record', ['branch', 'variant_config'])) }} as variant_config,
        {{ trellis.json_to_text(trellis.json_value('record', ['request', 'tools'])) }} as tools_json,
        {{ trellis.json_to_text(trellis.json_value('record', ['request', 'tool_choice'])) }} as tool_choice_json,
        {{ trellis.json_to_text(trellis.json_value('record', ['request', 'stop'])) }} as stop_json,
        {{ trellis.json_to_text(trellis.json_value('record', ['response', 'choices', 0, 'message', 'tool_calls'])) }}
            as reply_tool_calls_json,
        {{ trellis.json_to_text(trellis.json_value('record', ['metadata'])) }} as metadata_json,
        cast({{ trellis.json_text('record', ['error', 'http_status']) }} as integer) as error_http_status,
        cast({{ trellis.json_text('record', ['request', 'temperature']) }} as double precision) as temperature,
        cast({{ trellis.json_text('record', ['request', 'top_p']) }} as double precision) as top_p,
        cast({{ trellis.json_text('record', ['request', 'max_tokens']) }} as bigint) as max_tokens,
        cast({{ trellis.json_text('record', ['request', 'seed']) }} as bigint) as sampling_seed,
        cast({{ trellis.json_text('record', ['request', 'n']) }} as integer) as n_choices,
        {{ trellis.json_array_length(trellis.json_value('record', ['request', 'messages'])) }} as message_count,
        {{ trellis.json_array_length(trellis.json_value('record', ['response', 'choices', 0, 'message', 'tool_calls'])) }}
            as reply_tool_call_count,
        cast({{ trellis.json_text('record', ['response', 'usage', 'prompt_tokens']) }} as bigint) as usage_prompt_tokens,
        cast({{ trellis.json_text('record', ['response', 'usage', 'cache_read_input_tokens']) }} as bigint)
            as usage_cache_read_input_tokens,
        cast({{ trellis.json_text('record', ['response', 'usage', 'prompt_tokens_details', 'cached_tokens']) }} as bigint)
            as usage_cached_tokens,
        cast({{ trellis.json_text('record', ['response', 'usage', 'completion_tokens']) }} as bigint)
            as completion_tokens,
        cast({{ trellis.json_text('record', ['latency_ms']) }} as double precision) as reported_latency_ms,
        cast({{ trellis.json_text('record', ['ttft_ms']) }} as double precision) as ttft_ms,
        cast({{ trellis.json_text('record', ['cost_usd']) }} as double precision) as reported_cost_usd,
        cast({{ trellis.json_text('record', ['fallback', 'used']) }} as boolean) as fallback_used_flag,
        cast({{ trellis.json_text('record', ['prompt', 'redaction_applied']) }} as boolean) as is_prompt_redacted,
        {{ trellis.json_type_of('record', ['response']) }} = 'object' as has_response,
        created_at,
        cast({{ trellis.json_text('record', ['completed_at']) }} as timestamptz) as completed_at,
        ingested_at
    from source
),

normalized as (
    select
        request_id,
        tenant_id,
        agent_id,
        session_id,
        parent_request_id,
        trace_id,
        parent_trace_id,
        saga_id,
        model,
        served_model,
        provider,
        endpoint,
        coalesce(reported_status, case when has_response then 'success' else 'error' end) as request_status,
        error_code,
        error_message,
        response_id,
        finish_reason,
        reply_role,
        case when has_response then reply_text end as reply_text,
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
        message_count,
        coalesce(reply_tool_call_count, 0) as reply_tool_call_count,
        -- OpenAI convention: prompt tokens include cached tokens. A source that
        -- reports cached tokens separately (Anthropic's cache_read_input_tokens)
        -- is converted so no token is billed twice.
        case
            when usage_cache_read_input_tokens is not null and usage_cached_tokens is null
                then coalesce(usage_prompt_tokens, 0) + usage_cache_read_input_tokens
            else coalesce(usage_prompt_tokens, 0)
        end as prompt_tokens,
        coalesce(usage_cached_tokens, usage_cache_read_input_tokens, 0) as cached_tokens,
        coalesce(completion_tokens, 0) as completion_tokens,
        coalesce(
            reported_latency_ms,
            {{ trellis.milliseconds_between('created_at', 'completed_at') }}
        ) as latency_ms,
        ttft_ms,
        reported_cost_usd,
        coalesce(fallback_used_flag, reported_status = 'fallback', false) as is_fallback,
        coalesce(is_prompt_redacted, false) as is_prompt_redacted,
        has_response,
        created_at,
        completed_at,
        ingested_at
    from renamed
)

select * from normalized
