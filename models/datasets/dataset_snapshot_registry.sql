{#- One row per frozen dataset snapshot, with what later erasures found in it.
    1. A snapshot is registered once by `trellis freeze` (raw fact, never updated).
    2. Frozen files are immutable: an erasure or purge that removes facts some
       of a snapshot's examples come from adds rows to
       raw.dataset_snapshot_erasures; this model sums them per snapshot, so
       `holds_erased_examples` says which snapshots must not be used again
       (freeze a new one after the rebuild). -#}
with

snapshots as (
    select * from {{ ref('stg_registry__dataset_snapshots') }}
),

snapshot_erasures as (
    select * from {{ ref('stg_registry__dataset_snapshot_erasures') }}
),

erasures_summed as (
    select
        snapshot_id,
        cast(sum(erased_examples) as bigint) as erased_examples,
        count(*) as erasure_count,
        max(found_at) as last_erasure_found_at
    from snapshot_erasures
    group by snapshot_id
),

registry as (
    select
        snapshots.snapshot_id,
        snapshots.parent_snapshot_id,
        snapshots.dbt_invocation_id,
        snapshots.dataset_name,
        snapshots.source_relation,
        snapshots.format,
        snapshots.location,
        snapshots.iceberg_table,
        snapshots.iceberg_metadata_location,
        snapshots.content_hash,
        snapshots.created_by,
        snapshots.code_version,
        snapshots.vars,
        snapshots.policy_version,
        snapshots.iceberg_snapshot_id,
        snapshots.row_count,
        snapshots.bytes,
        coalesce(erasures_summed.erased_examples, 0) as erased_examples,
        coalesce(erasures_summed.erasure_count, 0) as erasure_count,
        coalesce(erasures_summed.erased_examples, 0) > 0 as holds_erased_examples,
        snapshots.created_at,
        erasures_summed.last_erasure_found_at
    from snapshots
    left join erasures_summed on snapshots.snapshot_id = erasures_summed.snapshot_id
)

select * from registry
