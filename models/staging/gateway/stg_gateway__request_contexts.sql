-- One row per request: the keys of its context messages and of its reply, in
-- order, the unit of content lineage. A view: only the incremental
-- int_requests_content_keyed reads it, one ingest batch at a time.
with

source as (
    select * from {{ source('gateway', 'requests') }}
),

parsed as (
    select
        request_id,
        tenant_id,
        created_at,
        ingested_at,
        {{ trellis.request_context_parse('record') }}
    from source
),

keyed as (
    select
        parsed.request_id,
        parsed.tenant_id,
        {{ trellis.request_context_parent_id() }} as parent_request_id,
        {{ trellis.request_context_message_keys() }} as message_keys,
        {{ trellis.request_context_message_roles() }} as message_roles,
        {{ trellis.request_context_reply_key() }} as reply_key,
        parsed.created_at,
        parsed.ingested_at
    from parsed
)

select * from keyed
