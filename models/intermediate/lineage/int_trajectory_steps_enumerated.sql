{{
    config(
        materialized='incremental',
        unique_key=['leaf_node_id', 'tenant_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook="
            delete from {{ this }} as stale
            where not exists (
                select 1 from {{ ref('int_branch_nodes_classified') }} as nodes
                where
                    nodes.node_id = stale.leaf_node_id
                    and nodes.tenant_id = stale.tenant_id
                    and nodes.is_leaf
            )
        ",
    )
}}

-- One row per (leaf, node on the path from its root to it): the expansion of
-- every root-to-leaf path, climbed from the leaves through parent pointers
-- (integer keys, one join per level). step_index counts from the root (0) to
-- the leaf (depth). Incremental: the paths of the trees the last lineage run
-- touched; the post-hook drops paths whose leaf has since got a child.

with recursive

all_leaves as (
    select *
    from {{ ref('int_trajectory_nodes_keyed') }}
    where is_leaf
),

{% if is_incremental() %}
    leaves as (
        select *
        from all_leaves
        where resolved_at > {{ trellis.stored_watermark('resolved_at') }}
    ),
{% else %}
    leaves as (
        select * from all_leaves
    ),
{% endif %}

climbed (leaf_key, node_key, parent_key, step_index) as (
    select
        leaves.node_key as leaf_key,
        leaves.node_key,
        leaves.parent_key,
        leaves.depth
    from leaves

    union all

    select
        climbed.leaf_key,
        nodes.node_key,
        nodes.parent_key,
        nodes.depth
    from climbed
    inner join {{ ref('int_trajectory_nodes_keyed') }} as nodes on climbed.parent_key = nodes.node_key
),

steps as (
    select
        leaves.node_id as leaf_node_id,
        leaves.tenant_id,
        nodes.node_id,
        climbed.step_index,
        leaves.resolved_at
    from climbed
    inner join leaves on climbed.leaf_key = leaves.node_key
    inner join {{ ref('int_trajectory_nodes_keyed') }} as nodes on climbed.node_key = nodes.node_key
)

select * from steps
