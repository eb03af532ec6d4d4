{{
    config(
        materialized='incremental',
        unique_key='leaf_node_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook="
            delete from {{ this }} as stale
            where not exists (
                select 1 from {{ ref('int_branch_nodes_classified') }} as nodes
                where nodes.node_id = stale.leaf_node_id and nodes.is_leaf
            )
        ",
    )
}}

-- One row per (leaf, node on the path from its root to it): the expansion of
-- every root-to-leaf path, climbed from the leaves through parent pointers
-- (integer keys: the climb joins once per level). step_index counts from the
-- root (0) to the leaf (depth). Incremental: the paths of the trees the last
-- classification touched; the post-hook drops paths whose leaf got a child.

with recursive

all_classified as (
    select * from {{ ref('int_branch_nodes_classified') }}
),

classified as (
    select *
    from all_classified
    {% if is_incremental() %}
        where all_classified.resolved_at > (select max(this.resolved_at) from {{ this }} as this)
    {% endif %}
),

numbered as (
    select
        row_number() over (order by classified.node_id) as node_key,
        classified.node_id,
        classified.parent_node_id,
        classified.depth,
        classified.is_leaf
    from classified
),

nodes as (
    select
        numbered.node_key,
        parents.node_key as parent_key,
        numbered.depth,
        numbered.is_leaf
    from numbered
    left join numbered as parents on numbered.parent_node_id = parents.node_id
),

climbed (leaf_key, node_key, parent_key, step_index) as (
    select
        nodes.node_key as leaf_key,
        nodes.node_key,
        nodes.parent_key,
        nodes.depth
    from nodes
    where nodes.is_leaf

    union all

    select
        climbed.leaf_key,
        nodes.node_key,
        nodes.parent_key,
        nodes.depth
    from climbed
    inner join nodes on climbed.parent_key = nodes.node_key
),

steps as (
    select
        leaves.node_id as leaf_node_id,
        numbered.node_id,
        climbed.step_index,
        (select max(all_classified.resolved_at) from all_classified) as resolved_at
    from climbed
    inner join numbered as leaves on climbed.leaf_key = leaves.node_key
    inner join numbered on climbed.node_key = numbered.node_key
)

select * from steps
