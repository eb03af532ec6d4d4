{{
    config(
        materialized='incremental',
        unique_key=['node_id', 'tenant_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- One row per node (id and tenant) with its branch kind (contract section 3): branch.kind when
-- the record gives one, else inferred from the node's place
-- (int_branch_nodes_grouped) and from how its request differs from its
-- response group's leader, the group's earliest call.
-- Incremental: a run classifies the nodes int_branch_nodes_grouped rewrote in
-- it. A group that gains a member is rewritten whole there, so every member
-- and its leader are at hand.

with

all_grouped as (
    select * from {{ ref('int_branch_nodes_grouped') }}
),

requests as (
    select * from {{ ref('stg_gateway__requests') }}
),

grouped as (
    select * from all_grouped
    {% if is_incremental() %}
        where resolved_at > {{ trellis.stored_watermark('resolved_at') }}
    {% endif %}
),

leaders as (
    select
        grouped.response_group_id,
        requests.model,
        requests.tools_json,
        requests.temperature,
        requests.top_p,
        requests.sampling_seed,
        requests.n_choices,
        requests.max_tokens
    from grouped
    inner join requests
        on
            grouped.node_id = requests.request_id
            and grouped.tenant_id = requests.tenant_id
    where grouped.branch_index = 0
),

classified as (
    select
        grouped.node_id,
        grouped.parent_node_id,
        grouped.root_node_id,
        grouped.tenant_id,
        grouped.response_group_id,
        grouped.context_key,
        grouped.lineage_source,
        coalesce(
            requests.declared_branch_kind,
            case
                when grouped.parent_node_id is null then 'root'
                when grouped.sibling_index = 0 then 'continuation'
                when grouped.branch_index = 0 then 'prompt_variant'
                when requests.tools_json is distinct from leaders.tools_json then 'tool_variant'
                when
                    requests.temperature is distinct from leaders.temperature
                    or requests.top_p is distinct from leaders.top_p
                    or requests.sampling_seed is distinct from leaders.sampling_seed
                    or requests.n_choices is distinct from leaders.n_choices
                    or requests.max_tokens is distinct from leaders.max_tokens
                    then 'sampling_variant'
                when requests.model != leaders.model then 'model_variant'
                else 'retry'
            end
        ) as branch_kind,
        grouped.depth,
        grouped.sibling_index,
        grouped.child_count,
        grouped.branch_index,
        grouped.group_size,
        grouped.is_leaf,
        grouped.is_orphan,
        grouped.created_at,
        grouped.resolved_at
    from grouped
    inner join requests
        on
            grouped.node_id = requests.request_id
            and grouped.tenant_id = requests.tenant_id
    -- (a response group id holds the tenant)
    inner join leaders on grouped.response_group_id = leaders.response_group_id
)

select * from classified
