"""DDL of the raw tables: the only tables trellis writes; dbt reads them as sources.

One definition for both targets: only the JSON column type differs. On
DuckDB the JSON records are zstd-compressed: DuckDB picks zstd by itself
only for strings of 4 KB or more on average, so row groups of shorter
records were written uncompressed (measured on demo traffic: 3 of 7 row
groups, 250 MB for 100k requests instead of 25 MB).
Every raw fact has a stable id (its primary key); rows are never updated.
"""

from __future__ import annotations

from trellis.config import RAW_SCHEMA, TargetName

_JSON_TYPE: dict[TargetName, str] = {
    "duckdb": "json using compression zstd",
    "postgres": "jsonb",
}

#: table name -> column definitions ({json} is the target's JSON type).
RAW_TABLES: dict[str, str] = {
    # One row per request record (contract section 1). `record` is the
    # whole record as received; staging parses it.
    "requests": """
        request_id varchar primary key,
        tenant_id varchar not null,
        created_at timestamptz not null,
        record_hash varchar not null,
        record {json} not null,
        source_file varchar,
        source_line bigint,
        ingested_at timestamptz not null
    """,
    # One row per feedback record (contract section 2).
    "feedback": """
        feedback_id varchar primary key,
        request_id varchar not null,
        created_at timestamptz not null,
        record_hash varchar not null,
        record {json} not null,
        source_file varchar,
        source_line bigint,
        ingested_at timestamptz not null
    """,
    # One row per rejected input line (contract section 4). The id is a hash of
    # kind, file, line and text, so re-ingesting a bad file adds nothing.
    "quarantine": """
        quarantine_id varchar primary key,
        record_kind varchar not null,
        source_file varchar not null,
        source_line bigint,
        reason varchar not null,
        detail varchar,
        record_id varchar,
        raw_text varchar,
        quarantined_at timestamptz not null
    """,
    # One row per frozen dataset snapshot (trellis freeze; dbt model
    # dataset_snapshot_registry). Never updated: what later happens to a
    # snapshot (an erasure that touches it) is a row of its own below.
    "dataset_snapshots": """
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
        vars {json},
        parent_snapshot_id varchar,
        policy_version varchar
    """,
    # One row per erasure or purge request (trellis erase, trellis purge):
    # what was asked, and how many raw facts it removed.
    "erasure_requests": """
        erasure_id varchar primary key,
        erasure_kind varchar not null,
        tenant_id varchar,
        request_id varchar,
        requested_by varchar not null,
        requests_removed bigint not null,
        feedback_removed bigint not null,
        requested_at timestamptz not null
    """,
    # One row per erasure and frozen snapshot that holds examples of it
    # (frozen files are immutable: the registry says which are affected).
    "dataset_snapshot_erasures": """
        erasure_id varchar not null,
        snapshot_id varchar not null,
        erased_examples bigint not null,
        found_at timestamptz not null,
        primary key (erasure_id, snapshot_id)
    """,
}


def raw_ddl(target: TargetName) -> list[str]:
    """Statements that create the raw schema and tables (idempotent)."""
    statements = [f"create schema if not exists {RAW_SCHEMA}"]
    for table, columns in RAW_TABLES.items():
        body = columns.format(json=_JSON_TYPE[target])
        statements.append(f"create table if not exists {RAW_SCHEMA}.{table} ({body})")
    return statements
