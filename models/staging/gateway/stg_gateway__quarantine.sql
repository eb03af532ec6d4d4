with

source as (
    select * from {{ source('gateway', 'quarantine') }}
),

renamed as (
    select
        quarantine_id,
        record_id,
        record_kind,
        source_file,
        reason as quarantine_reason,
        detail as quarantine_detail,
        raw_text,
        source_line,
        quarantined_at
    from source
)

select * from renamed
