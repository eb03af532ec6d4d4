"""Export the review queue; import reviews as human feedback through ingest.

Reviews that map to a feedback record go through `ingest_records`, so the
contract's validation, dedup and quarantine apply to them as to any file.
Reviews that cannot even become a record (no task, a score that is no number,
an unknown category) are written to raw.quarantine here, with the contract's
reason codes and the row as it was read: nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from trellis.config import RAW_SCHEMA
from trellis.services.ingest import IngestReport, ingest_records, quarantine_id
from trellis.services.review.reviews import ReviewItem, iter_records, read_reviews
from trellis.services.review.tasks import queued_tasks, write_tasks
from trellis.storage import Store


@dataclass
class ReviewImport:
    """What one import did: the ingest report of the mapped reviews, plus the unmappable."""

    ingest: IngestReport
    unmappable: dict[str, int] = field(default_factory=dict)
    cancelled: int = 0

    @property
    def quarantined(self) -> dict[str, int]:
        merged = dict(self.ingest.quarantined)
        for reason, count in self.unmappable.items():
            merged[reason] = merged.get(reason, 0) + count
        return merged


def export_reviews(store: Store, fmt: str, out: Path, limit: int | None = None) -> int:
    """Write the queue as review tasks; returns how many."""
    tasks = queued_tasks(store, limit)
    write_tasks(tasks, fmt, out)
    return len(tasks)


def import_reviews(store: Store, path: Path) -> ReviewImport:
    items, cancelled = read_reviews(path)
    report = ingest_records(store, "feedback", iter_records(items), source=str(path))
    unmappable = [item for item in items if item.record is None]
    _quarantine(store, str(path), unmappable)
    counts: dict[str, int] = {}
    for item in unmappable:
        assert item.reason is not None
        counts[item.reason] = counts.get(item.reason, 0) + 1
    return ReviewImport(report, counts, cancelled)


def _quarantine(store: Store, source: str, items: list[ReviewItem]) -> None:
    # one row per distinct id: a file holding the same bad row twice keeps one
    unique = {quarantine_id("feedback", source, i.line, i.raw_text): i for i in reversed(items)}
    if not unique:
        return
    now = datetime.now(UTC)
    table = pa.table(
        {
            "quarantine_id": list(unique),
            "record_kind": ["feedback"] * len(unique),
            "source_file": [source] * len(unique),
            "source_line": [i.line for i in unique.values()],
            "reason": [i.reason for i in unique.values()],
            "detail": [i.detail for i in unique.values()],
            "record_id": [i.record_id for i in unique.values()],
            "raw_text": [i.raw_text for i in unique.values()],
            "quarantined_at": pa.array([now] * len(unique), pa.timestamp("us", tz="UTC")),
        }
    )
    with store.transaction():
        store.insert_new(f"{RAW_SCHEMA}.quarantine", "quarantine_id", table)
