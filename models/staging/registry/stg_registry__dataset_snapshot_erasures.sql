with

source as (
    select * from {{ source('registry', 'dataset_snapshot_erasures') }}
),

renamed as (
    select
        erasure_id,
        snapshot_id,
        erased_examples,
        found_at
    from source
)

select * from renamed
