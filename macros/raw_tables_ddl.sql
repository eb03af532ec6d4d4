{#- The raw tables' DDL, the one definition of the warehouse's inputs: dbt runs it
    (create_raw_tables, on-run-start) and trellis renders this same file with plain
    Jinja (python/trellis/storage/schema.py), so it uses no dbt function.
    Every raw fact has a stable id (its primary key); rows are never updated. -#}
{% macro raw_tables_ddl(raw_schema, json_type) -%}
create schema if not exists {{ raw_schema }};

-- One row per request record (contract section 1). `record` is the whole
-- record as received; staging parses it. A request id is unique within its
-- tenant only (two tenants may send the same one). The id leads the key so
-- lookups by request id alone (feedback's tenant check) use its index.
-- python/trellis/storage/upgrade.py brings a table keyed by request_id alone
-- (warehouses created before) to this key.
create table if not exists {{ raw_schema }}.requests (
    request_id varchar not null,
    tenant_id varchar not null,
    created_at timestamptz not null,
    record_hash varchar not null,
    record {{ json_type }} not null,
    source_file varchar,
    source_line bigint,
    ingested_at timestamptz not null,
    primary key (request_id, tenant_id)
);

-- One row per feedback record (contract section 2).
create table if not exists {{ raw_schema }}.feedback (
    feedback_id varchar primary key,
    request_id varchar not null,
    created_at timestamptz not null,
    record_hash varchar not null,
    record {{ json_type }} not null,
    source_file varchar,
    source_line bigint,
    ingested_at timestamptz not null
);

-- One row per rejected input line (contract section 4). The id is a hash of
-- kind, the file's content, line and text, so re-ingesting a bad file (from
-- any path) adds nothing.
create table if not exists {{ raw_schema }}.quarantine (
    quarantine_id varchar primary key,
    record_kind varchar not null,
    source_file varchar not null,
    source_line bigint,
    reason varchar not null,
    detail varchar,
    record_id varchar,
    raw_text varchar,
    quarantined_at timestamptz not null
);

-- Settings of the raw data itself: the record_hash version (trellis rehash).
create table if not exists {{ raw_schema }}.ingest_meta (
    name varchar primary key,
    value varchar not null
);

-- One row per frozen dataset snapshot (trellis freeze; dbt model
-- dataset_snapshot_registry). Never updated: what later happens to a
-- snapshot (an erasure that touches it) is a row of its own below.
create table if not exists {{ raw_schema }}.dataset_snapshots (
    snapshot_id varchar primary key,
    dataset_name varchar not null,
    source_relation varchar not null,
    format varchar not null,
    location varchar not null,
    iceberg_table varchar not null,
    iceberg_snapshot_id bigint not null,
    iceberg_metadata_location varchar not null,
    row_count bigint not null,
    bytes bigint not null,
    content_hash varchar not null,
    created_at timestamptz not null,
    created_by varchar not null,
    dbt_invocation_id varchar,
    code_version varchar not null,
    vars {{ json_type }},
    parent_snapshot_id varchar,
    policy_version varchar
);

-- One row per erasure or purge request (trellis erase, trellis purge): what
-- was asked, and how many raw facts it removed.
create table if not exists {{ raw_schema }}.erasure_requests (
    erasure_id varchar primary key,
    erasure_kind varchar not null,
    tenant_id varchar,
    request_id varchar,
    requested_by varchar not null,
    requests_removed bigint not null,
    feedback_removed bigint not null,
    requested_at timestamptz not null
);

-- One row per erasure and frozen snapshot that holds examples of it (frozen
-- files are immutable: the registry says which are affected).
create table if not exists {{ raw_schema }}.dataset_snapshot_erasures (
    erasure_id varchar not null,
    snapshot_id varchar not null,
    erased_examples bigint not null,
    found_at timestamptz not null,
    primary key (erasure_id, snapshot_id)
)
{%- endmacro %}
