"""Moved to trellis.ingest.contract; kept for callers not moved yet (the demo generator)."""

from trellis.ingest.contract import (
    DEFAULT_TENANT,
    KIND_SPECS,
    REASONS,
    RECORD_KINDS,
    RecordKind,
    checked_reasons,
)

__all__ = [
    "DEFAULT_TENANT",
    "KIND_SPECS",
    "REASONS",
    "RECORD_KINDS",
    "RecordKind",
    "checked_reasons",
]
