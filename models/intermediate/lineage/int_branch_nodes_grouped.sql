{{
    config(
        materialized='incremental',
        unique_key=['node_id', 'tenant_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- One row per node (id and tenant: ids are unique per tenant; every join below
-- matches both): its place among its siblings and its response group
-- (int_branch_nodes_classified then names its branch kind).
--   1. A response group holds the calls that answer the same context: the
--      children of one parent with identical contexts, or the first turns of
--      one tenant with identical contexts (a regenerated first answer). A first
--      turn is a plain root: no parent, not an orphan. It stays a root of its
--      own tree and session; only its group spans trees.
--   2. An orphan root is a group of its own: a late parent may still adopt it.
--   3. An incremental run regroups whole trees: those the recursion
--      re-walked, and the trees whose first turn shares a group with theirs.
--      A first turn never changes parent, so its group only ever gains members.

with

all_rooted as (
    select * from {{ ref('int_branch_nodes_rooted') }}
),

parents as (
    select * from {{ ref('int_request_parents_resolved') }}
),

content_keys as (
    select * from {{ ref('int_requests_content_keyed') }}
),

requests as (
    select * from {{ ref('stg_gateway__requests') }}
),

{% if is_incremental() %}
    first_turns as (
        select
            all_rooted.root_node_id,
            all_rooted.tenant_id,
            content_keys.context_key
        from all_rooted
        inner join parents
            on
                all_rooted.node_id = parents.request_id
                and all_rooted.tenant_id = parents.tenant_id
        inner join content_keys
            on
                all_rooted.node_id = content_keys.request_id
                and all_rooted.tenant_id = content_keys.tenant_id
        where
            all_rooted.parent_node_id is null
            and not (parents.is_orphan or all_rooted.is_loop_cut)
    ),

    rewalked_roots as (
        select distinct
            all_rooted.root_node_id,
            all_rooted.tenant_id
        from all_rooted
        where all_rooted.resolved_at > {{ trellis.stored_watermark('resolved_at') }}
    ),

    touched_roots as (
        select
            rewalked_roots.root_node_id,
            rewalked_roots.tenant_id
        from rewalked_roots
        union
        select
            regrouped.root_node_id,
            regrouped.tenant_id
        from rewalked_roots
        inner join first_turns as rewalked
            on
                rewalked_roots.root_node_id = rewalked.root_node_id
                and rewalked_roots.tenant_id = rewalked.tenant_id
        inner join first_turns as regrouped
            on
                rewalked.tenant_id = regrouped.tenant_id
                and rewalked.context_key = regrouped.context_key
    ),

    rooted as (
        select all_rooted.*
        from all_rooted
        inner join touched_roots
            on
                all_rooted.root_node_id = touched_roots.root_node_id
                and all_rooted.tenant_id = touched_roots.tenant_id
    ),
{% else %}
    rooted as (
        select * from all_rooted
    ),
{% endif %}

nodes as (
    select
        rooted.node_id,
        rooted.parent_node_id,
        rooted.root_node_id,
        rooted.tenant_id,
        content_keys.context_key,
        case when rooted.is_loop_cut then 'none' else parents.lineage_source end as lineage_source,
        rooted.depth,
        parents.is_orphan or rooted.is_loop_cut as is_orphan,
        requests.created_at,
        rooted.resolved_at
    from rooted
    inner join parents
        on
            rooted.node_id = parents.request_id
            and rooted.tenant_id = parents.tenant_id
    inner join requests
        on
            rooted.node_id = requests.request_id
            and rooted.tenant_id = requests.tenant_id
    inner join content_keys
        on
            rooted.node_id = content_keys.request_id
            and rooted.tenant_id = content_keys.tenant_id
),

child_counts as (
    select
        parent_node_id as node_id,
        tenant_id,
        count(*) as child_count
    from nodes
    where parent_node_id is not null
    group by parent_node_id, tenant_id
),

ordered as (
    select
        nodes.*,
        md5(
            concat_ws(
                '|',
                nodes.tenant_id,
                case
                    when nodes.parent_node_id is not null then nodes.parent_node_id
                    when nodes.is_orphan then '#root ' || nodes.node_id
                    else '#first turn'
                end,
                nodes.context_key
            )
        )
            as response_group_id,
        case
            when nodes.parent_node_id is null then 0
            else row_number() over (
                partition by nodes.parent_node_id, nodes.tenant_id
                order by nodes.created_at, nodes.node_id
            ) - 1
        end as sibling_index,
        coalesce(child_counts.child_count, 0) as child_count
    from nodes
    left join child_counts
        on
            nodes.node_id = child_counts.node_id
            and nodes.tenant_id = child_counts.tenant_id
),

grouped as (
    select
        ordered.*,
        row_number() over (
            partition by ordered.response_group_id
            order by ordered.created_at, ordered.node_id
        ) - 1 as branch_index,
        count(*) over (partition by ordered.response_group_id) as group_size
    from ordered
),

positioned as (
    select
        grouped.node_id,
        grouped.parent_node_id,
        grouped.root_node_id,
        grouped.tenant_id,
        grouped.response_group_id,
        grouped.context_key,
        grouped.lineage_source,
        grouped.depth,
        grouped.sibling_index,
        grouped.child_count,
        grouped.branch_index,
        grouped.group_size,
        grouped.child_count = 0 as is_leaf,
        grouped.is_orphan,
        grouped.created_at,
        (select max(all_rooted.resolved_at) from all_rooted) as resolved_at
    from grouped
)

select * from positioned
