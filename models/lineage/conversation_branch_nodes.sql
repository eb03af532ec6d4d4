{{
    config(
        materialized='incremental',
        unique_key=['node_id', 'tenant_id'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
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

nodes as (
    select
        classified.node_id,
        classified.parent_node_id,
        classified.root_node_id,
        coalesce(roots.session_id, classified.root_node_id) as session_key,
        classified.response_group_id,
        classified.context_key as context_snapshot_id,
        classified.tenant_id,
        requests.agent_id,
        requests.model,
        classified.branch_kind,
        classified.lineage_source,
        requests.request_status as node_status,
        requests.variant_config,
        classified.depth,
        classified.sibling_index,
        classified.child_count,
        classified.is_leaf,
        classified.is_orphan,
        classified.created_at,
        classified.resolved_at
    from classified
    inner join requests
        on
            classified.node_id = requests.request_id
            and classified.tenant_id = requests.tenant_id
    inner join requests as roots
        on
            classified.root_node_id = roots.request_id
            and classified.tenant_id = roots.tenant_id
)

select * from nodes
