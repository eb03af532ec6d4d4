"""TEMPORARY: `SourceItem` and `ingest_items` until `trellis.ingest` exports them.

The lead replaces this module by `from trellis.ingest import SourceItem,
ingest_items` at merge; its semantics are that interface's, nothing more:
each item's record is validated like any line, a quarantined row keeps the
item's ORIGINAL `raw_text` and its `position` as source_line, an item
without a record is quarantined with its `reason`, and the call commits
before it returns. Built on today's private ingest pipeline, a batch of
items per pipeline run, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

import pyarrow as pa

from trellis.services import ingest as _ingest
from trellis.services.ingest import IngestReport
from trellis.services.line_chunks import _table_from_lines, record_to_json
from trellis.storage import Store

__all__ = ["SourceItem", "ingest_items"]

_BATCH_ITEMS = 20_000


@dataclass(frozen=True)
class SourceItem:
    position: int
    raw_text: str
    record: Mapping[str, Any] | None
    reason: str | None = None


class _ItemIngestion(_ingest._Ingestion):
    """One batch of items: quarantine rows take the items' original text."""

    def __init__(self, store: Store, kind: str, raw_texts: dict[int, str]) -> None:
        super().__init__(store, kind)
        self.raw_texts = raw_texts

    def _quarantine_rows(self, source: str, checked: pa.Table) -> pa.Table:
        rows = super()._quarantine_rows(source, checked)
        lines = rows.column("source_line").to_pylist()
        texts = [self.raw_texts.get(line) for line in lines]
        ids = [
            _ingest.quarantine_id(self.kind, source, line, text or "")
            for line, text in zip(lines, texts, strict=True)
        ]
        rows = rows.set_column(
            rows.schema.get_field_index("raw_text"), "raw_text", pa.array(texts, pa.string())
        )
        return rows.set_column(
            rows.schema.get_field_index("quarantine_id"),
            "quarantine_id",
            pa.array(ids, pa.string()),
        )


def ingest_items(
    store: Store,
    kind: str,
    items: Iterable[SourceItem],
    source: str,
    on_progress: Callable[[str, int], None] | None = None,
) -> IngestReport:
    """Validate and append `items` of one kind; `source` names them in source_file."""
    report = IngestReport(files=[source])
    iterator = iter(items)
    done = 0
    while batch := list(islice(iterator, _BATCH_ITEMS)):
        part = _ingest_batch(store, kind, batch, source)
        report.loaded += part.loaded
        report.duplicates += part.duplicates
        report.already_quarantined += part.already_quarantined
        for reason, count in part.quarantined.items():
            report.quarantined[reason] = report.quarantined.get(reason, 0) + count
        done += len(batch)
        if on_progress:
            on_progress(source, done)
    return report


def _ingest_batch(store: Store, kind: str, batch: list[SourceItem], source: str) -> IngestReport:
    raw_texts = {item.position: item.raw_text for item in batch}
    mapped = [item for item in batch if item.record is not None]
    unmapped = [item for item in batch if item.record is None]
    with _ItemIngestion(store, kind, raw_texts) as ingestion:
        if unmapped:
            checked = pa.table(
                {
                    "quarantine_id": [""] * len(unmapped),
                    "source_line": [item.position for item in unmapped],
                    "reason": [item.reason or "unmapped" for item in unmapped],
                    "detail": [None] * len(unmapped),
                    "record_id": [None] * len(unmapped),
                    "line": [item.raw_text for item in unmapped],
                },
                schema=_ingest._QUARANTINED_SCHEMA,
            )
            ingestion._quarantine([ingestion._quarantine_rows(source, checked)])
        if mapped:
            ingestion.run(_chunks(ingestion, source, mapped), ingestion.screened, None)
        return ingestion.report


def _chunks(
    ingestion: _ingest._Ingestion, source: str, mapped: list[SourceItem]
) -> Iterator[tuple[str, pa.Table]]:
    chunk = _table_from_lines([record_to_json(item.record or {}) for item in mapped], 1)
    positions = pa.array([item.position for item in mapped], pa.int64())
    chunk = chunk.set_column(0, "source_line", positions)
    yield source, ingestion.marked(chunk)
