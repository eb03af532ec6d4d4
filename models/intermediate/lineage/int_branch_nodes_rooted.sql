{{
    config(
        materialized='incremental',
        unique_key=['node_id', 'tenant_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- The recursion, isolated here: one row per node (id and tenant) with its root
-- and depth. Parent and root are of the node's tenant.
-- Trees are walked down from their roots along jump pointers
-- (macros/lineage_jump_pointers.sql): a node whose jump pointer lands on a
-- root takes root and depth from it; any other node takes them from the node
-- its pointer lands on, 16 levels up. Nodes no root reaches sit on (or under)
-- a loop of explicit parents: each loop is cut at its earliest member
-- (created_at, then id), which becomes an orphan root, and the rest of those
-- nodes are walked down from the cuts.
-- Incremental: a run re-walks only the trees a changed parent touches (the
-- stored trees of the changed nodes and of their new parents, plus the new
-- nodes): whole trees, so every parent of a node walked is walked too.

with recursive

parents as (
    select * from {{ ref('int_request_parents_resolved') }}
),

{% if is_incremental() %}
    changed as (
        select *
        from parents
        where resolved_at > {{ trellis.stored_watermark('resolved_at') }}
    ),

    touched_roots as (
        select
            previous.root_node_id,
            previous.tenant_id
        from {{ this }} as previous
        inner join changed
            on
                previous.node_id = changed.request_id
                and previous.tenant_id = changed.tenant_id

        union

        select
            previous.root_node_id,
            previous.tenant_id
        from {{ this }} as previous
        inner join changed
            on
                previous.node_id = changed.proposed_parent_id
                and previous.tenant_id = changed.tenant_id
    ),

    work_nodes as (
        select
            changed.request_id as node_id,
            changed.tenant_id
        from changed

        union

        select
            previous.node_id,
            previous.tenant_id
        from {{ this }} as previous
        inner join touched_roots
            on
                previous.root_node_id = touched_roots.root_node_id
                and previous.tenant_id = touched_roots.tenant_id
    ),

    edges as (
        select parents.*
        from parents
        inner join work_nodes
            on
                parents.request_id = work_nodes.node_id
                and parents.tenant_id = work_nodes.tenant_id
    ),
{% else %}
    edges as (
        select * from parents
    ),
{% endif %}

{{ trellis.lineage_jump_pointers('edges') }}

descended (node_key, root_key, depth) as (
    select
        jumped.node_key,
        jumped.up_key,
        jumped.up_steps
    from jumped
    where jumped.is_up_root

    union all

    select
        jumped.node_key,
        descended.root_key,
        descended.depth + jumped.up_steps
    from descended
    inner join jumped on descended.node_key = jumped.up_key
    where not jumped.is_up_root
),

unreached as (
    select jumped.*
    from jumped
    left join descended on jumped.node_key = descended.node_key
    where descended.node_key is null
),

unreached_size as (
    select count(*) as node_count from unreached
),

-- Climb from every unreached node; a node on a loop meets itself again.
climbed (start_key, node_key, steps) as (
    select
        unreached.node_key,
        unreached.parent_key,
        1
    from unreached

    union all

    select
        climbed.start_key,
        unreached.parent_key,
        climbed.steps + 1
    from climbed
    inner join unreached on climbed.node_key = unreached.node_key
    where
        climbed.node_key != climbed.start_key
        and climbed.steps <= (select unreached_size.node_count from unreached_size)
),

loop_cuts as (
    select distinct
        first_value(unreached.node_key) over (
            partition by climbed.start_key
            order by unreached.created_at, unreached.node_id, unreached.tenant_id
            rows between unbounded preceding and unbounded following
        ) as node_key
    from climbed
    inner join unreached on climbed.node_key = unreached.node_key
    where climbed.start_key in (
        select loops.start_key from climbed as loops
        where loops.node_key = loops.start_key
    )
),

loops_cut as (
    select
        unreached.node_key,
        case when loop_cuts.node_key is null then unreached.parent_key end as parent_key
    from unreached
    left join loop_cuts on unreached.node_key = loop_cuts.node_key
),

redescended (node_key, root_key, depth) as (
    select
        loops_cut.node_key,
        loops_cut.node_key as root_key,
        0 as depth
    from loops_cut
    where loops_cut.parent_key is null

    union all

    select
        loops_cut.node_key,
        redescended.root_key,
        redescended.depth + 1
    from redescended
    inner join loops_cut on redescended.node_key = loops_cut.parent_key
),

placed as (
    select
        node_key,
        root_key,
        depth,
        false as is_loop_cut
    from descended

    union all

    select
        redescended.node_key,
        redescended.root_key,
        redescended.depth,
        loops_cut.parent_key is null as is_loop_cut
    from redescended
    inner join loops_cut on redescended.node_key = loops_cut.node_key
),

recursed as (
    select
        nodes.node_id,
        nodes.tenant_id,
        case when placed.is_loop_cut then null else nodes.parent_node_id end as parent_node_id,
        roots.node_id as root_node_id,
        cast(placed.depth as integer) as depth,
        placed.is_loop_cut,
        (select max(parents.resolved_at) from parents) as resolved_at
    from placed
    inner join jumped as nodes on placed.node_key = nodes.node_key
    inner join jumped as roots on placed.root_key = roots.node_key
)

select * from recursed
