{#- CTEs (numbered, keyed, jump_1 .. jump_16, jumped) giving every node of an
    edge set integer keys and a jump pointer to its ancestor 16 steps up, or to
    its root when that is nearer, built by path doubling (4 self-joins:
    1 -> 2 -> 4 -> 8 -> 16 steps). A recursion that follows jump pointers needs
    depth / 16 iterations instead of one per level, so a 500-turn agent loop
    costs about what a 10-turn chat of the same node count does.
    edges: a CTE with request_id, tenant_id, proposed_parent_id and created_at,
    closed under parents (every parent is itself a row of its tenant: a
    request id is unique within its tenant only). Ends with a trailing comma. -#}
{% macro lineage_jump_pointers(edges, rounds=4) -%}
numbered as (
    select
        row_number() over (order by {{ edges }}.tenant_id, {{ edges }}.request_id) as node_key,
        {{ edges }}.request_id as node_id,
        {{ edges }}.tenant_id,
        {{ edges }}.proposed_parent_id as parent_node_id,
        {{ edges }}.created_at
    from {{ edges }}
),

keyed as (
    select
        child.node_key,
        parent.node_key as parent_key,
        child.node_id,
        child.tenant_id,
        child.parent_node_id,
        child.created_at
    from numbered as child
    left join numbered as parent
        on
            child.parent_node_id = parent.node_id
            and child.tenant_id = parent.tenant_id
),

jump_1 as (
    select
        keyed.node_key,
        coalesce(keyed.parent_key, keyed.node_key) as up_key,
        case when keyed.parent_key is null then 0 else 1 end as up_steps
    from keyed
),

{% for round in range(1, rounds + 1) %}
jump_{{ 2 ** round }} as (
    select
        near.node_key,
        far.up_key,
        near.up_steps + far.up_steps as up_steps
    from jump_{{ 2 ** (round - 1) }} as near
    inner join jump_{{ 2 ** (round - 1) }} as far on near.up_key = far.node_key
),
{% endfor %}

jumped as (
    select
        keyed.node_key,
        keyed.parent_key,
        jump.up_key,
        keyed.node_id,
        keyed.tenant_id,
        keyed.parent_node_id,
        jump.up_steps,
        up_node.parent_key is null as is_up_root,
        keyed.created_at
    from keyed
    inner join jump_{{ 2 ** rounds }} as jump on keyed.node_key = jump.node_key
    inner join keyed as up_node on jump.up_key = up_node.node_key
),
{%- endmacro %}
