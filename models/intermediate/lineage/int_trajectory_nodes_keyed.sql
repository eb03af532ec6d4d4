-- One row per node of the trees the last lineage run touched (every node after
-- a full build), with integer keys for the climb in int_trajectory_steps_enumerated.
-- A table of its own, not a CTE: the climb joins it once per level, and a
-- stored table is what the databases join fastest, level after level.

with

classified as (
    select * from {{ ref('int_branch_nodes_classified') }}
),

latest as (
    select *
    from classified
    where resolved_at = (select max(newest.resolved_at) from classified as newest)
),

numbered as (
    select
        row_number() over (order by latest.tenant_id, latest.node_id) as node_key,
        latest.node_id,
        latest.tenant_id,
        latest.parent_node_id,
        latest.depth,
        latest.is_leaf,
        latest.resolved_at
    from latest
),

keyed as (
    select
        numbered.node_key,
        parents.node_key as parent_key,
        numbered.node_id,
        numbered.tenant_id,
        numbered.depth,
        numbered.is_leaf,
        numbered.resolved_at
    from numbered
    left join numbered as parents
        on
            numbered.parent_node_id = parents.node_id
            and numbered.tenant_id = parents.tenant_id
)

select * from keyed
