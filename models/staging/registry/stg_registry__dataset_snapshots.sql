with

source as (
    select * from {{ source('registry', 'dataset_snapshots') }}
),

renamed as (
    select
        snapshot_id,
        dataset_name,
        source_relation,
        format,
        location,
        iceberg_table,
        iceberg_snapshot_id,
        iceberg_metadata_location,
        row_count,
        bytes,
        content_hash,
        created_at,
        created_by,
        dbt_invocation_id,
        code_version,
        cast(vars as varchar) as vars,
        parent_snapshot_id,
        policy_version
    from source
)

select * from renamed
