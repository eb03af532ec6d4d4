{{
    config(
        materialized='incremental',
        unique_key=['execution_id', 'tenant_id'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

with

requests as (
    select * from {{ ref('stg_gateway__requests') }}
),

nodes as (
    select
        node_id,
        tenant_id,
        session_key,
        branch_kind,
        resolved_at
    from {{ ref('conversation_branch_nodes') }}
    {% if is_incremental() %}
        where resolved_at > {{ trellis.stored_watermark('resolved_at') }}
    {% endif %}
),

executions as (
    select
        requests.request_id as execution_id,
        requests.request_id as node_id,
        nodes.session_key,
        requests.replay_of_request_id,
        requests.cohort_id,
        requests.response_id,
        requests.trace_id,
        requests.parent_trace_id,
        requests.saga_id,
        requests.tenant_id,
        requests.agent_id,
        requests.model as requested_model,
        requests.served_model,
        requests.provider,
        requests.endpoint,
        nodes.branch_kind,
        requests.request_status,
        requests.error_code,
        requests.error_message,
        requests.finish_reason,
        requests.reply_tool_calls_json as tool_trace_json,
        requests.fallback_from_model,
        requests.fallback_reason,
        requests.prompt_template_id,
        requests.prompt_template_version,
        requests.prompt_hash,
        requests.agent_config_id,
        requests.agent_config_version,
        requests.variant_config,
        requests.metadata_json,
        requests.error_http_status,
        requests.reply_tool_call_count as tool_call_count,
        requests.prompt_tokens,
        requests.cached_tokens,
        requests.completion_tokens,
        requests.latency_ms,
        requests.ttft_ms,
        requests.reported_cost_usd,
        requests.replay_of_request_id is not null as is_replay,
        requests.is_fallback,
        requests.is_prompt_redacted,
        requests.created_at,
        requests.completed_at,
        nodes.resolved_at
    from requests
    inner join nodes
        on
            requests.request_id = nodes.node_id
            and requests.tenant_id = nodes.tenant_id
)

select * from executions
