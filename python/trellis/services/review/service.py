"""Export the review queue; import reviews as human feedback through ingest.

Every review goes through `ingest_items`, so the contract's validation, dedup
and quarantine apply to it as to any file. A review that cannot even become a
record (no task, a score that is no number, an unknown category) is an item
without a record: quarantined with the contract's reason code and the row as
it was read. Nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trellis.ingest import IngestReport, SourceItem, ingest_items
from trellis.services.review.reviews import read_reviews
from trellis.services.review.tasks import queued_tasks, write_tasks
from trellis.storage import Store


@dataclass
class ReviewImport:
    """What one import did: the ingest report, and which of its quarantined rows were unmappable."""

    ingest: IngestReport
    #: Of the quarantined rows, those that could not become a record, by reason.
    unmappable: dict[str, int] = field(default_factory=dict)
    cancelled: int = 0

    @property
    def quarantined(self) -> dict[str, int]:
        return dict(self.ingest.quarantined)


def export_reviews(store: Store, fmt: str, out: Path, limit: int | None = None) -> int:
    """Write the queue as review tasks; returns how many."""
    tasks = queued_tasks(store, limit)
    write_tasks(tasks, fmt, out)
    return len(tasks)


def import_reviews(store: Store, path: Path) -> ReviewImport:
    items, cancelled = read_reviews(path)
    report = ingest_items(
        store,
        "feedback",
        (
            SourceItem(item.line, item.raw_text, item.record, item.reason, item.detail)
            for item in items
        ),
        source=str(path),
    )
    counts: dict[str, int] = {}
    for item in items:
        if item.record is None:
            assert item.reason is not None
            counts[item.reason] = counts.get(item.reason, 0) + 1
    return ReviewImport(report, counts, cancelled)
