-- One row per (leaf, node on the path from its root to it): the expansion of
-- every root-to-leaf path, climbed from the leaves through parent pointers
-- (integer keys: the climb joins once per level). step_index counts from the
-- root (0) to the leaf (depth).

with recursive

keys as (
    select
        node_key,
        parent_key,
        node_id
    from {{ ref('int_branch_edges_jumped') }}
),

classified as (
    select
        node_id,
        parent_node_id,
        depth,
        is_leaf
    from {{ ref('int_branch_nodes_classified') }}
),

nodes as (
    select
        keys.node_key,
        parents.node_key as parent_key,
        classified.depth,
        classified.is_leaf
    from classified
    inner join keys on classified.node_id = keys.node_id
    left join keys as parents on classified.parent_node_id = parents.node_id
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
        nodes.node_id,
        climbed.step_index
    from climbed
    inner join keys as leaves on climbed.leaf_key = leaves.node_key
    inner join keys as nodes on climbed.node_key = nodes.node_key
)

select * from steps
