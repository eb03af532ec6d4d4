{{
    config(
        materialized='incremental',
        unique_key=['session_key', 'tenant_id'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        post_hook="
            delete from {{ this }} as stale
            where not exists (
                select 1 from {{ ref('conversation_branch_nodes') }} as nodes
                where nodes.session_key = stale.session_key and nodes.tenant_id = stale.tenant_id
            )
        ",
    )
}}

with

all_nodes as (
    select * from {{ ref('conversation_branch_nodes') }}
),

{% if is_incremental() %}
    touched_sessions as (
        select distinct
            all_nodes.session_key,
            all_nodes.tenant_id
        from all_nodes
        where all_nodes.resolved_at > {{ trellis.stored_watermark('resolved_at') }}
    ),

    nodes as (
        select all_nodes.*
        from all_nodes
        inner join touched_sessions
            on
                all_nodes.session_key = touched_sessions.session_key
                and all_nodes.tenant_id = touched_sessions.tenant_id
    ),
{% else %}
    nodes as (
        select * from all_nodes
    ),
{% endif %}

requests as (
    select * from {{ ref('stg_gateway__requests') }}
),

node_facts as (
    select
        nodes.session_key,
        nodes.tenant_id,
        nodes.node_id,
        nodes.root_node_id,
        nodes.agent_id,
        nodes.model,
        nodes.node_status,
        nodes.depth,
        nodes.child_count,
        nodes.is_leaf,
        requests.prompt_tokens,
        requests.completion_tokens,
        nodes.created_at
    from nodes
    inner join requests
        on
            nodes.node_id = requests.request_id
            and nodes.tenant_id = requests.tenant_id
),

sessions as (
    select
        session_key,
        tenant_id,
        string_agg(distinct agent_id, ',' order by agent_id) as agent_ids,
        string_agg(distinct model, ',' order by model) as models,
        count(*) as node_count,
        count(distinct root_node_id) as root_count,
        cast(sum(case when child_count > 1 then 1 else 0 end) as bigint) as branch_point_count,
        cast(sum(case when is_leaf then 1 else 0 end) as bigint) as leaf_count,
        max(depth) as max_depth,
        cast(sum(prompt_tokens) as bigint) as prompt_tokens,
        cast(sum(completion_tokens) as bigint) as completion_tokens,
        cast(sum(case when node_status = 'success' then 1 else 0 end) as bigint) as success_count,
        cast(sum(case when node_status = 'error' then 1 else 0 end) as bigint) as error_count,
        cast(sum(case when node_status = 'timeout' then 1 else 0 end) as bigint) as timeout_count,
        cast(sum(case when node_status = 'fallback' then 1 else 0 end) as bigint) as fallback_count,
        cast(sum(case when node_status = 'cancelled' then 1 else 0 end) as bigint) as cancelled_count,
        min(created_at) as first_created_at,
        max(created_at) as last_created_at,
        (select max(all_nodes.resolved_at) from all_nodes) as resolved_at
    from node_facts
    group by session_key, tenant_id
)

select * from sessions
