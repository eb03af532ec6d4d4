"""The raw facts a runner writes: looked up by their deterministic ids, and ingested.

A runner writes request records (replay) or feedback records (judge,
labelling) through ingest, like any producer, so they are validated,
deduplicated and quarantined by the same contract. Whether a record was
stored is read back from its raw table by id, not inferred from what ingest
reported: a quarantined record is simply absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from trellis.config import RAW_SCHEMA
from trellis.runners.kit.db import Db, as_json, placeholders

RecordKind = Literal["requests", "feedback"]
ID_COLUMN: Mapping[str, str] = {"requests": "request_id", "feedback": "feedback_id"}
_CHUNK = 500


def _select(db: Db, kind: RecordKind, columns: str, ids: Sequence[str]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    # Table and column come from RecordKind, never from input; the ids are parameters.
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        rows += db.query(
            f"select {columns} from {RAW_SCHEMA}.{kind} "
            f"where {ID_COLUMN[kind]} in ({placeholders(len(chunk))})",
            chunk,
        )
    return rows


def existing_records(db: Db, kind: RecordKind, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Stored records of those ids, by id."""
    rows = _select(db, kind, f"{ID_COLUMN[kind]}, record", ids)
    return {str(r[0]): as_json(r[1]) for r in rows}


def stored_ids(db: Db, kind: RecordKind, ids: Sequence[str]) -> set[str]:
    """Which of those ids the raw table holds."""
    return {str(r[0]) for r in _select(db, kind, ID_COLUMN[kind], ids)}


def quarantine_summary(report: Any) -> str:
    """`reason` or `one of a, b` from an ingest report's quarantine counts."""
    reasons = sorted(getattr(report, "quarantined", {}) or {})
    if not reasons:
        return "not stored"
    if len(reasons) == 1:
        return f"quarantined at ingest: {reasons[0]}"
    return f"quarantined at ingest: one of {', '.join(reasons)}"


def ingest(db: Db, kind: RecordKind, records: list[dict[str, Any]], source: str) -> Any:
    """Ingest records built in memory (the ingest report)."""
    from trellis.ingest import ingest_records  # the ingest package, imported late

    return ingest_records(db, kind, records, source=source)  # type: ignore[arg-type]
