-- One row per request with the parent the contract's rules give it (section 3),
-- before cycles among explicit parents are broken:
--   1. parent_request_id, when that request exists in the same tenant;
--   2. else the content parent: the request of the same tenant whose exchange
--      equals this request's messages up to its last assistant turn, created
--      strictly before it; among several, the latest, then the smallest id;
--   3. a request with an assistant turn but no logged parent, or whose explicit
--      parent is missing, is an orphan root.

with

requests as (
    select * from {{ ref('stg_gateway__requests') }}
),

keys as (
    select * from {{ ref('int_requests_content_keyed') }}
),

keyed_requests as (
    select
        requests.request_id,
        requests.tenant_id,
        requests.parent_request_id,
        keys.exchange_key,
        keys.parent_prefix_key,
        requests.created_at
    from requests
    inner join keys on requests.request_id = keys.request_id
),

explicit_parents as (
    select
        child.request_id,
        parent.request_id as explicit_parent_id
    from keyed_requests as child
    inner join keyed_requests as parent
        on
            child.parent_request_id = parent.request_id
            and child.tenant_id = parent.tenant_id
),

content_candidates as (
    select
        child.request_id,
        parent.request_id as content_parent_id,
        row_number() over (
            partition by child.request_id
            order by parent.created_at desc, parent.request_id asc
        ) as candidate_rank
    from keyed_requests as child
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
        content_parent_id
    from content_candidates
    where candidate_rank = 1
),

resolved as (
    select
        keyed_requests.request_id,
        keyed_requests.tenant_id,
        coalesce(explicit_parents.explicit_parent_id, content_parents.content_parent_id) as proposed_parent_id,
        case
            when explicit_parents.explicit_parent_id is not null then 'explicit'
            when content_parents.content_parent_id is not null then 'content'
            else 'none'
        end as lineage_source,
        case
            when keyed_requests.parent_request_id is not null
                then explicit_parents.explicit_parent_id is null
            else keyed_requests.parent_prefix_key is not null and content_parents.content_parent_id is null
        end as is_orphan,
        keyed_requests.created_at
    from keyed_requests
    left join explicit_parents on keyed_requests.request_id = explicit_parents.request_id
    left join content_parents on keyed_requests.request_id = content_parents.request_id
)

select * from resolved
