-- One row per feedback record and tenant it applies to: a request id is unique
-- within its tenant only, so feedback reaches a request by id and tenant.
--   1. Feedback naming a tenant applies to that tenant's request (ingest
--      quarantines it when the id is stored under other tenants only).
--   2. Feedback naming none applies to the request of that id in every tenant
--      that has one (one tenant, unless two tenants use the id); before its
--      request arrives its tenant is null, and it reaches no request.

with

feedback as (
    select * from {{ ref('stg_gateway__feedback') }}
),

requests as (
    select
        request_id,
        tenant_id
    from {{ ref('stg_gateway__requests') }}
),

named as (
    select
        feedback.*,
        feedback.named_tenant_id as tenant_id
    from feedback
    where feedback.named_tenant_id is not null
),

unnamed as (
    select
        feedback.*,
        requests.tenant_id
    from feedback
    left join requests on feedback.request_id = requests.request_id
    where feedback.named_tenant_id is null
),

resolved as (
    select * from named
    union all
    select * from unnamed
)

select * from resolved
