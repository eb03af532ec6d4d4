-- Every tree has exactly one root: the one node of the tree with no parent
-- (node ids are unique per tenant: a tree is a tenant's root_node_id).
select
    tenant_id,
    root_node_id,
    sum(case when parent_node_id is null then 1 else 0 end) as roots
from {{ ref('conversation_branch_nodes') }}
group by tenant_id, root_node_id
having sum(case when parent_node_id is null then 1 else 0 end) != 1
