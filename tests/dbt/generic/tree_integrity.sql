{% test tree_integrity(model, column_name, parent_column, root_column, depth_column, tenant_column) %}
    {#- Fails on every node that breaks the tree: a parent that does not exist in
        the node's tenant (ids are unique per tenant only), a depth that is not the parent's depth + 1, a
        root that differs from the parent's root, or a root (no parent) that is
        not its own root at depth 0. Together these rule out cycles: depth
        strictly decreases along parent pointers and ends at a root. -#}
    with

    nodes as (
        select * from {{ model }}
    ),

    checked as (
        select
            nodes.{{ column_name }} as node_id,
            case
                when nodes.{{ parent_column }} is null and nodes.{{ root_column }} != nodes.{{ column_name }}
                    then 'root is not its own root'
                when nodes.{{ parent_column }} is null and nodes.{{ depth_column }} != 0
                    then 'root depth is not 0'
                when nodes.{{ parent_column }} is not null and parents.{{ column_name }} is null
                    then 'parent does not exist in the tenant'
                when parents.{{ depth_column }} + 1 != nodes.{{ depth_column }}
                    then 'depth is not parent depth + 1'
                when parents.{{ root_column }} != nodes.{{ root_column }}
                    then 'root differs from the parent root'
            end as violation
        from nodes
        left join nodes as parents
            on
                nodes.{{ parent_column }} = parents.{{ column_name }}
                and nodes.{{ tenant_column }} = parents.{{ tenant_column }}
    )

    select * from checked where violation is not null
{% endtest %}
