with

source as (
    select * from {{ source('registry', 'erasure_requests') }}
),

renamed as (
    select
        erasure_id,
        erasure_kind,
        tenant_id,
        request_id,
        requested_by,
        requests_removed,
        feedback_removed,
        requested_at
    from source
)

select * from renamed
