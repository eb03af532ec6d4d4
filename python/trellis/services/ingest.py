"""Moved to trellis.ingest; kept for callers not moved yet."""

from trellis.ingest import IngestReport, SourceItem, ingest_files, ingest_items, ingest_records

__all__ = ["IngestReport", "SourceItem", "ingest_files", "ingest_items", "ingest_records"]
