{{
    config(
        materialized='incremental',
        unique_key=['request_id', 'tenant_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- One row per request (id and tenant: an id is unique within its tenant only)
-- with the parent the contract's rules give it (section 3), before cycles among
-- explicit parents are broken; a parent is always of the child's tenant:
--   1. parent_request_id, when that request exists in the same tenant;
--   2. else the content parent: the request of the same tenant whose exchange
--      equals this request's messages up to its last assistant turn, created
--      strictly before it; among several, the latest, then the smallest id;
--   3. a request with an assistant turn but no logged parent, or whose explicit
--      parent is missing, is an orphan root.
-- Incremental: a run resolves the requests that arrived, and the stored ones
-- whose parent an arrival may change (an arrival they name explicitly, or whose
-- exchange matches their messages: a late parent, or a later cache hit).
-- resolved_at marks the rows a run wrote, for the models downstream.

with

keyed_requests as (
    select
        request_id,
        tenant_id,
        parent_request_id,
        exchange_key,
        parent_prefix_key,
        created_at,
        ingested_at
    from {{ ref('int_requests_content_keyed') }}
),

{% if is_incremental() %}
    arrived as (
        select *
        from keyed_requests
        where ingested_at > {{ trellis.stored_watermark('ingested_at') }}
    ),

    to_resolve as (
        select
            arrived.request_id,
            arrived.tenant_id
        from arrived

        union

        select
            stored.request_id,
            stored.tenant_id
        from keyed_requests as stored
        inner join arrived
            on
                stored.parent_request_id = arrived.request_id
                and stored.tenant_id = arrived.tenant_id

        union

        select
            stored.request_id,
            stored.tenant_id
        from keyed_requests as stored
        inner join arrived
            on
                stored.parent_prefix_key = arrived.exchange_key
                and stored.tenant_id = arrived.tenant_id
    ),

    children as (
        select keyed_requests.*
        from keyed_requests
        inner join to_resolve
            on
                keyed_requests.request_id = to_resolve.request_id
                and keyed_requests.tenant_id = to_resolve.tenant_id
    ),
{% else %}
    children as (
        select * from keyed_requests
    ),
{% endif %}

explicit_parents as (
    select
        child.request_id,
        child.tenant_id,
        parent.request_id as explicit_parent_id
    from children as child
    inner join keyed_requests as parent
        on
            child.parent_request_id = parent.request_id
            and child.tenant_id = parent.tenant_id
),

content_candidates as (
    select
        child.request_id,
        child.tenant_id,
        parent.request_id as content_parent_id,
        row_number() over (
            partition by child.request_id, child.tenant_id
            order by parent.created_at desc, parent.request_id asc
        ) as candidate_rank
    from children as child
    inner join keyed_requests as parent
        on
            child.parent_prefix_key = parent.exchange_key
            and child.tenant_id = parent.tenant_id
            and child.created_at > parent.created_at
    where child.parent_request_id is null
),

content_parents as (
    select
        request_id,
        tenant_id,
        content_parent_id
    from content_candidates
    where candidate_rank = 1
),

resolved as (
    select
        children.request_id,
        children.tenant_id,
        coalesce(explicit_parents.explicit_parent_id, content_parents.content_parent_id) as proposed_parent_id,
        case
            when explicit_parents.explicit_parent_id is not null then 'explicit'
            when content_parents.content_parent_id is not null then 'content'
            else 'none'
        end as lineage_source,
        case
            when children.parent_request_id is not null
                then explicit_parents.explicit_parent_id is null
            else children.parent_prefix_key is not null and content_parents.content_parent_id is null
        end as is_orphan,
        children.created_at,
        children.ingested_at,
        (select max(watermark.ingested_at) from keyed_requests as watermark) as resolved_at
    from children
    left join explicit_parents
        on
            children.request_id = explicit_parents.request_id
            and children.tenant_id = explicit_parents.tenant_id
    left join content_parents
        on
            children.request_id = content_parents.request_id
            and children.tenant_id = content_parents.tenant_id
)

select * from resolved
