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
    # kind, the file's content, line and text, so re-ingesting a bad file (from
    # any path) adds nothing.
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
    # Settings of the raw data itself: the record_hash version (trellis.ingest.rehash).
    "ingest_meta": """
        name varchar primary key,
        value varchar not null
    """,
}


def raw_ddl(target: TargetName) -> list[str]:
    """Statements that create the raw schema and tables (idempotent)."""
    statements = [f"create schema if not exists {RAW_SCHEMA}"]
    for table, columns in RAW_TABLES.items():
        body = columns.format(json=_JSON_TYPE[target])
        statements.append(f"create table if not exists {RAW_SCHEMA}.{table} ({body})")
    return statements
