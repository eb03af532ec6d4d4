-- Every leaf ends exactly one trajectory, and each trajectory has depth + 1 steps.
select
    nodes.node_id,
    trajectories.step_count,
    nodes.depth
from {{ ref('conversation_branch_nodes') }} as nodes
left join {{ ref('trajectory_units') }} as trajectories
    on
        nodes.node_id = trajectories.leaf_node_id
        and nodes.tenant_id = trajectories.tenant_id
where
    nodes.is_leaf
    and (trajectories.leaf_node_id is null or trajectories.step_count != nodes.depth + 1)
