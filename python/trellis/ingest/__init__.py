"""Ingest: gateway log lines read, checked against the contract, fingerprinted and
loaded into the raw tables (trellis.ingest.load), on DuckDB and PostgreSQL."""

from trellis.ingest.load import (
    IngestInterrupted,
    IngestReport,
    SourceItem,
    checked_paths,
    ingest_files,
    ingest_items,
    ingest_records,
)
from trellis.ingest.rehash import rehash

__all__ = [
    "IngestInterrupted",
    "IngestReport",
    "SourceItem",
    "checked_paths",
    "ingest_files",
    "ingest_items",
    "ingest_records",
    "rehash",
]
