-- One row per (leaf, node on the path from its root to it): the expansion of
-- every root-to-leaf path, climbed from the leaves through parent pointers.
-- step_index counts from the root (0) to the leaf (depth).

with recursive

nodes as (
    select
        node_id,
        parent_node_id,
        depth,
        is_leaf
    from {{ ref('int_branch_nodes_classified') }}
),

climbed (leaf_node_id, node_id, parent_node_id, step_index) as (
    select
        nodes.node_id,
        nodes.node_id,
        nodes.parent_node_id,
        nodes.depth
    from nodes
    where nodes.is_leaf

    union all

    select
        climbed.leaf_node_id,
        nodes.node_id,
        nodes.parent_node_id,
        nodes.depth
    from climbed
    inner join nodes on climbed.parent_node_id = nodes.node_id
)

select
    leaf_node_id,
    node_id,
    step_index
from climbed
