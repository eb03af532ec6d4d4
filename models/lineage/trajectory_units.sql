{{
    config(
        materialized='incremental',
        unique_key=['leaf_node_id', 'tenant_id'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        post_hook="
            delete from {{ this }} as stale
            where not exists (
                select 1 from {{ ref('conversation_branch_nodes') }} as nodes
                where
                    nodes.node_id = stale.leaf_node_id
                    and nodes.tenant_id = stale.tenant_id
                    and nodes.is_leaf
            )
        ",
    )
}}

with

steps as (
    select * from {{ ref('int_trajectory_steps_enumerated') }}
    {% if is_incremental() %}
        where resolved_at > {{ trellis.stored_watermark('resolved_at') }}
    {% endif %}
),

classified as (
    select * from {{ ref('int_branch_nodes_classified') }}
),

requests as (
    select * from {{ ref('stg_gateway__requests') }}
),

sessions as (
    select
        node_id,
        tenant_id,
        session_key
    from {{ ref('conversation_branch_nodes') }}
),

step_facts as (
    select
        steps.leaf_node_id,
        steps.tenant_id,
        steps.node_id,
        steps.step_index,
        classified.branch_kind,
        requests.request_status,
        requests.reply_tool_call_count,
        requests.prompt_tokens,
        requests.completion_tokens,
        requests.latency_ms,
        steps.resolved_at
    from steps
    inner join classified
        on
            steps.node_id = classified.node_id
            and steps.tenant_id = classified.tenant_id
    inner join requests
        on
            steps.node_id = requests.request_id
            and steps.tenant_id = requests.tenant_id
),

paths as (
    select
        leaf_node_id,
        tenant_id,
        {{ trellis.json_array_agg('node_id', 'step_index') }} as node_ids,
        count(*) as step_count,
        cast(sum(reply_tool_call_count) as bigint) as tool_call_count,
        cast(sum(case when request_status in ('error', 'timeout', 'cancelled') then 1 else 0 end) as bigint)
            as error_count,
        cast(sum(case when branch_kind = 'retry' then 1 else 0 end) as bigint) as retry_count,
        cast(sum(prompt_tokens) as bigint) as prompt_tokens,
        cast(sum(completion_tokens) as bigint) as completion_tokens,
        -- rounded to the microsecond: a float sum must not depend on row order
        cast(cast(sum(latency_ms) as numeric(38, 3)) as double precision) as latency_ms,
        max(resolved_at) as resolved_at
    from step_facts
    group by leaf_node_id, tenant_id
),

trajectories as (
    select
        -- the tenant is part of the id: a leaf's node id is unique within its tenant only
        md5(concat_ws('|', 'trajectory', paths.tenant_id, paths.leaf_node_id)) as trajectory_id,
        leaves.root_node_id,
        paths.leaf_node_id,
        sessions.session_key,
        leaves.tenant_id,
        paths.node_ids,
        leaf_requests.request_status as final_status,
        leaves.depth,
        paths.step_count,
        paths.tool_call_count,
        paths.error_count,
        paths.retry_count,
        paths.prompt_tokens,
        paths.completion_tokens,
        paths.latency_ms,
        roots.is_orphan as is_orphan_root,
        leaf_requests.created_at as leaf_created_at,
        paths.resolved_at
    from paths
    inner join classified as leaves
        on
            paths.leaf_node_id = leaves.node_id
            and paths.tenant_id = leaves.tenant_id
    inner join classified as roots
        on
            leaves.root_node_id = roots.node_id
            and leaves.tenant_id = roots.tenant_id
    inner join requests as leaf_requests
        on
            paths.leaf_node_id = leaf_requests.request_id
            and paths.tenant_id = leaf_requests.tenant_id
    inner join sessions
        on
            paths.leaf_node_id = sessions.node_id
            and paths.tenant_id = sessions.tenant_id
)

select * from trajectories
