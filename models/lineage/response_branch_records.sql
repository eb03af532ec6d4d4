{{
    config(
        materialized='incremental',
        unique_key=['node_id', 'tenant_id'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        post_hook="
            delete from {{ this }} as stale
            where not exists (
                select 1 from {{ ref('int_branch_nodes_classified') }} as nodes
                where
                    nodes.node_id = stale.node_id
                    and nodes.tenant_id = stale.tenant_id
                    and nodes.group_size > 1
            )
        ",
    )
}}

with

classified as (
    select * from {{ ref('int_branch_nodes_classified') }}
    {% if is_incremental() %}
        where resolved_at > {{ trellis.stored_watermark('resolved_at') }}
    {% endif %}
),

requests as (
    select * from {{ ref('stg_gateway__requests') }}
),

shared_prompts as (
    select
        classified.response_group_id,
        classified.node_id,
        classified.parent_node_id as context_anchor_node_id,
        classified.tenant_id,
        requests.agent_id,
        requests.model,
        requests.served_model,
        classified.branch_kind,
        requests.request_status,
        requests.reply_text as response_text,
        requests.reply_tool_calls_json,
        classified.branch_index,
        classified.group_size,
        requests.prompt_tokens,
        requests.cached_tokens,
        requests.completion_tokens,
        requests.latency_ms,
        requests.reported_cost_usd,
        classified.created_at,
        classified.resolved_at
    from classified
    inner join requests
        on
            classified.node_id = requests.request_id
            and classified.tenant_id = requests.tenant_id
    where classified.group_size > 1
)

select * from shared_prompts
