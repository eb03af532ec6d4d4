-- The recursion, isolated here: one row per node with its root and depth.
-- Trees are walked down from their roots. Nodes no root reaches sit on (or
-- under) a loop of explicit parents: each loop is cut at its earliest member
-- (created_at, then id), which becomes an orphan root, and the rest of those
-- nodes are walked down from the cuts.

with recursive

edges as (
    select
        cast(request_id as {{ dbt.type_string() }}) as node_id,
        cast(proposed_parent_id as {{ dbt.type_string() }}) as parent_node_id,
        created_at
    from {{ ref('int_request_parents_resolved') }}
),

descended (node_id, root_node_id, depth) as (
    select
        edges.node_id,
        edges.node_id,
        0
    from edges
    where edges.parent_node_id is null

    union all

    select
        edges.node_id,
        descended.root_node_id,
        descended.depth + 1
    from descended
    inner join edges on descended.node_id = edges.parent_node_id
),

unreached as (
    select edges.*
    from edges
    left join descended on edges.node_id = descended.node_id
    where descended.node_id is null
),

-- Climb from every unreached node; a node on a loop meets itself again.
climbed (start_node_id, node_id, steps) as (
    select
        unreached.node_id,
        unreached.parent_node_id,
        1
    from unreached

    union all

    select
        climbed.start_node_id,
        unreached.parent_node_id,
        climbed.steps + 1
    from climbed
    inner join unreached on climbed.node_id = unreached.node_id
    where
        climbed.node_id != climbed.start_node_id
        and climbed.steps <= (select count(*) from unreached)
),

loop_members as (
    select distinct climbed.start_node_id as node_id
    from climbed
    where climbed.node_id = climbed.start_node_id
),

loop_cuts as (
    select distinct first_value(climbed.node_id) over (
        partition by climbed.start_node_id
        order by unreached.created_at, climbed.node_id
        rows between unbounded preceding and unbounded following
    ) as node_id
    from climbed
    inner join loop_members on climbed.start_node_id = loop_members.node_id
    inner join unreached on climbed.node_id = unreached.node_id
),

loops_cut as (
    select
        unreached.node_id,
        case when loop_cuts.node_id is null then unreached.parent_node_id end as parent_node_id
    from unreached
    left join loop_cuts on unreached.node_id = loop_cuts.node_id
),

redescended (node_id, root_node_id, depth) as (
    select
        loops_cut.node_id,
        loops_cut.node_id,
        0
    from loops_cut
    where loops_cut.parent_node_id is null

    union all

    select
        loops_cut.node_id,
        redescended.root_node_id,
        redescended.depth + 1
    from redescended
    inner join loops_cut on redescended.node_id = loops_cut.parent_node_id
),

recursed as (
    select
        descended.node_id,
        edges.parent_node_id,
        descended.root_node_id,
        descended.depth,
        false as is_loop_cut
    from descended
    inner join edges on descended.node_id = edges.node_id

    union all

    select
        redescended.node_id,
        loops_cut.parent_node_id,
        redescended.root_node_id,
        redescended.depth,
        loops_cut.parent_node_id is null as is_loop_cut
    from redescended
    inner join loops_cut on redescended.node_id = loops_cut.node_id
)

select * from recursed
