{#- The raw tables' DDL, the one definition of the warehouse's inputs: dbt runs it
    (create_raw_tables, on-run-start) and trellis renders this same file with plain
    Jinja (python/trellis/storage/schema.py), so it uses no dbt function.
    Every raw fact has a stable id (its primary key); rows are never updated. -#}
{% macro raw_tables_ddl(raw_schema, json_type) -%}
create schema if not exists {{ raw_schema }};

-- One row per request record (contract section 1). `record` is the whole
-- record as received; staging parses it.
create table if not exists {{ raw_schema }}.requests (
    request_id varchar primary key,
    tenant_id varchar not null,
    created_at timestamptz not null,
    record_hash varchar not null,
    record {{ json_type }} not null,
    source_file varchar,
    source_line bigint,
    ingested_at timestamptz not null
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
)
{%- endmacro %}
