"""Load gateway log lines into raw.requests / raw.feedback (contract section 4).

One path for every input: numbered lines (trellis.ingest.read, or records
built in memory) are checked one by one (trellis.ingest.validate), gathered
in batches of up to BATCH_LINES lines, and each batch is one transaction
(stored on a thread of its own while the next batch is checked):
the valid rows go in as an Arrow table with one set-based insert of the new
ids and one join that finds the conflicts (trellis.storage.base.append_new),
the rejected lines into raw.quarantine. A crash or Ctrl-C loses at most the
open batch, and a re-run redoes it idempotently.

Idempotence: a record whose key is stored with the same `record_hash` (its
content fingerprint) is a duplicate; with another one it is a `conflict`,
quarantined, the stored row untouched. A request's key is its id and tenant:
the same id sent by another tenant is another request, and loads (one
tenant's records never conflict with, nor reveal, another's). The first
occurrence of a key wins: later occurrences in one batch go in later rounds,
judged against what is stored by then.

Quarantine rows are identified by content: kind, the source's content hash
(for a file, of its bytes; for records in memory, the source name), line
number and text. Re-ingesting a bad file, under any path, adds no rows; the
report still counts its lines and says how many were already known.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy
import pyarrow as pa
import xxhash

from trellis.config import RAW_SCHEMA
from trellis.errors import TrellisError
from trellis.ingest import contract as c
from trellis.ingest.read import Line, file_lines, record_text
from trellis.ingest.rehash import ensure_current_hashes
from trellis.ingest.validate import Problem, check
from trellis.storage import Store
from trellis.storage.base import append_new

__all__ = [
    "IngestInterrupted",
    "IngestReport",
    "SourceItem",
    "ingest_files",
    "ingest_items",
    "ingest_records",
]

#: Lines per batch (one transaction) and bytes of text per batch, at most.
BATCH_LINES = 20_000
BATCH_BYTES = 48 * 1024 * 1024
#: Called after each batch with (source, lines read so far in it).
ProgressCallback = Callable[[str, int], None]
_UTC_MICROS = pa.timestamp("us", tz="UTC")


@dataclass
class IngestReport:
    """What one ingest call did. `quarantined` maps reason code -> lines."""

    loaded: int = 0
    duplicates: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    #: Of the quarantined lines, how many raw.quarantine already held (an
    #: earlier run of the same content).
    already_quarantined: int = 0

    @property
    def total_quarantined(self) -> int:
        return sum(self.quarantined.values())

    @property
    def all_rejected(self) -> bool:
        """Lines were read and none was loaded or a duplicate: all were quarantined."""
        return self.total_quarantined > 0 and self.loaded == 0 and self.duplicates == 0


@dataclass(frozen=True)
class SourceItem:
    """One record of a source that is not a gateway log file (an importer, a NATS message).

    `raw_text` is the source's own text, kept when the record is quarantined;
    `record` the record mapped to the contract, or None when it could not be
    mapped: then it is quarantined with `reason` and `detail` (the reason
    again when there is none).
    """

    position: int
    raw_text: str
    record: Mapping[str, Any] | None
    reason: str | None = None
    detail: str | None = None


class IngestInterrupted(TrellisError):
    """Ctrl-C during an ingest: the batches committed so far stay, the open one is undone."""

    def __init__(self, report: IngestReport) -> None:
        self.report = report
        super().__init__(
            f"interrupted; committed before the stop: {report.loaded:,} loaded, "
            f"{report.duplicates:,} duplicates, {report.total_quarantined:,} quarantined. "
            "Run the same command again to finish: what is stored is skipped."
        )


def ingest_files(
    store: Store,
    kind: str,
    paths: Sequence[Path],
    on_progress: ProgressCallback | None = None,
) -> IngestReport:
    """Ingest JSONL, JSONL.gz or Parquet files of one record kind ("requests" or "feedback").

    Every path is checked before anything is read, so a typo in the last
    one fails the command before anything is written.
    """
    files = checked_paths(paths)
    ingestion = _Ingestion(store, kind)
    ingestion.report.files += [str(path) for path in files]
    for path in files:
        ingestion.run(str(path), _content_key(path), file_lines(path), on_progress)
    return ingestion.report


def ingest_records(
    store: Store, kind: str, records: Iterable[Mapping[str, Any]], source: str
) -> IngestReport:
    """Ingest records built in memory; `source` names them in source_file, line = position.

    Each record is written out as one line of JSON and takes the path of a
    file's lines, so validation, dedup and quarantine cannot drift apart.
    """
    lines = (
        _line(position, record_text(record), None)
        for position, record in enumerate(records, start=1)
    )
    ingestion = _Ingestion(store, kind)
    ingestion.report.files.append(source)
    ingestion.run(source, source, lines, None)
    return ingestion.report


def ingest_items(
    store: Store,
    kind: str,
    items: Iterable[SourceItem],
    source: str,
    on_progress: ProgressCallback | None = None,
) -> IngestReport:
    """Ingest records mapped from another source's items (SourceItem); committed on return.

    An item without a record is quarantined with its reason; a mapped record
    is checked like any line, and if it is quarantined its original
    `raw_text` is what quarantine keeps.
    """

    def lines() -> Iterator[Line]:
        for item in items:
            if item.record is None:
                raw = item.raw_text.encode("utf-8", "surrogatepass")
                reason = item.reason or c.INVALID_JSON
                yield Line(item.position, raw, item.raw_text, (reason, item.detail or reason))
            else:
                yield _line(item.position, record_text(item.record), item.raw_text)

    ingestion = _Ingestion(store, kind)
    ingestion.report.files.append(source)
    ingestion.run(source, source, lines(), on_progress)
    return ingestion.report


def _line(position: int, text: str, original: str | None) -> Line:
    return Line(
        position, text.encode("utf-8", "surrogatepass"), text if original is None else original
    )


def _content_key(path: Path) -> str:
    """What identifies a file's quarantine rows: its bytes, not its path."""
    digest = xxhash.xxh3_128()
    with path.open("rb") as handle:
        while block := handle.read(8 * 1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def checked_paths(paths: Sequence[Path]) -> list[Path]:
    """The input files, resolved and each once; a missing one fails before anything is read."""
    if not paths:
        raise TrellisError("no input files given")
    files: list[Path] = []
    for path in paths:
        resolved = Path(path).expanduser().resolve()
        if not resolved.exists():
            raise TrellisError(f"no such file: {path}")
        if not resolved.is_file():
            raise TrellisError(f"not a file: {path}")
        if resolved not in files:
            files.append(resolved)
    return files


@dataclass
class _Batch:
    """One batch's lines, checked: valid rows by round, quarantine rows."""

    source: str
    key: str
    rounds: list[list[tuple[Line, Any]]] = field(default_factory=list)
    quarantine: list[tuple[Line, str, str, str | None]] = field(default_factory=list)


class _Ingestion:
    """One ingest call: its kind, its batch time, its running report."""

    def __init__(self, store: Store, kind: str) -> None:
        if kind not in c.RECORD_KINDS:
            raise TrellisError(f"unknown record kind {kind!r}: choose requests or feedback")
        self.spec = c.KIND_SPECS[kind]  # type: ignore[index]
        self.kind = self.spec.kind
        self.store = store
        self.table = f"{RAW_SCHEMA}.{self.spec.table}"
        self.ingested_at = dt.datetime.now(dt.UTC)
        self.report = IngestReport()
        ensure_current_hashes(store)

    def run(
        self,
        source: str,
        key: str,
        lines: Iterable[Line],
        on_progress: ProgressCallback | None,
    ) -> None:
        """Check batches on this thread while the previous one is stored on another.

        The store's work (DuckDB or psycopg) runs without the GIL, so it
        overlaps the checking, which holds it. One batch at most is in flight.
        """
        with ThreadPoolExecutor(1, thread_name_prefix="trellis-store") as writer:
            stored: Future[None] | None = None
            previous = 0
            try:
                for batch, last in self._batches(source, key, lines):
                    if stored is not None:
                        stored.result()
                        if on_progress is not None:
                            on_progress(source, previous)
                    stored, previous = writer.submit(self._store, batch), last
                if stored is not None:
                    stored.result()
                    if on_progress is not None:
                        on_progress(source, previous)
            except KeyboardInterrupt:
                if stored is not None and not stored.cancel():
                    with contextlib.suppress(Exception):
                        stored.result()  # committed or rolled back: the report says which
                raise IngestInterrupted(self.report) from None

    def _batches(
        self, source: str, key: str, lines: Iterable[Line]
    ) -> Iterator[tuple[_Batch, int]]:
        batch, held, size, last = _Batch(source, key), 0, 0, 0
        seen: dict[tuple[str, ...], int] = {}
        for line in lines:
            self._check(batch, seen, line)
            held += 1
            size += len(line.raw)
            last = line.position
            if held >= BATCH_LINES or size >= BATCH_BYTES:
                yield batch, last
                batch, held, size, seen = _Batch(source, key), 0, 0, {}
        if held:
            yield batch, last

    def _check(self, batch: _Batch, seen: dict[tuple[str, ...], int], line: Line) -> None:
        if line.problem is not None:
            batch.quarantine.append((line, *line.problem, None))
            return
        result = check(self.kind, line.raw)
        if isinstance(result, Problem):
            batch.quarantine.append((line, result.reason, result.detail, result.record_id))
            return
        key = (
            (result.record_id, result.tenant_id)
            if self.spec.has_tenant_column
            else (result.record_id,)
        )
        occurrence = seen.get(key, 0)
        seen[key] = occurrence + 1
        if occurrence == len(batch.rounds):
            batch.rounds.append([])
        batch.rounds[occurrence].append((line, result))

    def _store(self, batch: _Batch) -> None:
        """One batch in one transaction; the report counts it once it is committed."""
        loaded = duplicates = 0
        quarantine = list(batch.quarantine)
        with self.store.transaction():
            if self.kind == "feedback":
                batch.rounds = [self._tenants_checked(rows, quarantine) for rows in batch.rounds]
            for rows in batch.rounds:
                if not rows:
                    continue
                inserted, conflicts = append_new(
                    self.store, self.table, self.spec.key_columns, self._rows(batch.source, rows)
                )
                conflicted = set(conflicts)
                for line, result in rows:
                    if line.position in conflicted:
                        detail = (
                            f"{self.spec.id_column} {result.record_id!r} is already stored "
                            "with different content; the stored record is kept"
                        )
                        quarantine.append((line, c.CONFLICT, detail, result.record_id))
                loaded += inserted
                duplicates += len(rows) - inserted - len(conflicts)
            known = self._quarantine(batch, quarantine)
        self.report.loaded += loaded
        self.report.duplicates += duplicates
        self.report.already_quarantined += known
        for reason, count in Counter(reason for _, reason, _, _ in quarantine).items():
            self.report.quarantined[reason] = self.report.quarantined.get(reason, 0) + count

    def _tenants_checked(
        self, rows: list[tuple[Line, Any]], quarantine: list[tuple[Line, str, str, str | None]]
    ) -> list[tuple[Line, Any]]:
        """Feedback naming a tenant none of its (stored) request's is not applied.

        A request id may be stored under several tenants: feedback naming
        tenant T for request X is a mismatch only when X is stored and not
        under T. Feedback for a request not stored yet loads: its tenant is
        compared by the warehouse, which joins feedback to requests on id and
        tenant.
        """
        named = {result.parent_id: None for _, result in rows if result.tenant_given}
        if not named:
            return rows
        tenants: dict[str, set[str]] = {}
        wanted = list(named)
        for start in range(0, len(wanted), 1000):
            part = wanted[start : start + 1000]
            found = self.store.query(
                "select request_id, tenant_id from raw.requests "
                f"where request_id in ({', '.join('?' * len(part))})",
                part,
            )
            for request_id, tenant_id in found:
                tenants.setdefault(request_id, set()).add(tenant_id)
        kept = []
        for line, result in rows:
            stored = tenants.get(result.parent_id)
            if result.tenant_given and stored is not None and result.tenant_id not in stored:
                detail = f"request {result.parent_id!r} belongs to another tenant"
                quarantine.append((line, c.TENANT_MISMATCH, detail, result.record_id))
            else:
                kept.append((line, result))
        return kept

    def _rows(self, source: str, rows: list[tuple[Line, Any]]) -> pa.Table:
        spec = self.spec
        results = [result for _, result in rows]
        columns: dict[str, pa.Array] = {
            spec.id_column: pa.array([r.record_id for r in results], pa.string())
        }
        if spec.parent_column:
            columns[spec.parent_column] = pa.array([r.parent_id for r in results], pa.string())
        if spec.has_tenant_column:
            columns["tenant_id"] = pa.array([r.tenant_id for r in results], pa.string())
        count = len(rows)
        columns |= {
            "created_at": pa.array(
                numpy.fromiter((r.created_at for r in results), numpy.int64, count), _UTC_MICROS
            ),
            "record_hash": pa.array([r.record_hash for r in results], pa.string()),
            "record": _texts([line.raw for line, _ in rows]),
            "source_file": pa.repeat(pa.scalar(source, pa.string()), count),
            "source_line": pa.array([line.position for line, _ in rows], pa.int64()),
            "ingested_at": pa.repeat(pa.scalar(self.ingested_at, _UTC_MICROS), count),
        }
        return pa.table(columns)

    def _quarantine(
        self, batch: _Batch, quarantine: list[tuple[Line, str, str, str | None]]
    ) -> int:
        """Insert the batch's quarantine rows; how many were stored already."""
        if not quarantine:
            return 0
        ids: dict[str, tuple[Line, str, str, str | None]] = {}
        for entry in quarantine:
            line = entry[0]
            text = _faithful_text(line.original)
            identity = f"{self.kind}\n{batch.key}\n{line.position}\n"
            ids.setdefault(xxhash.xxh3_128_hexdigest(identity.encode() + text.encode()), entry)
        entries = list(ids.values())
        rows = pa.table(
            {
                "quarantine_id": pa.array(list(ids), pa.string()),
                "record_kind": pa.repeat(pa.scalar(self.kind), len(entries)),
                "source_file": pa.repeat(pa.scalar(batch.source), len(entries)),
                "source_line": pa.array([e[0].position for e in entries], pa.int64()),
                "reason": pa.array([e[1] for e in entries], pa.string()),
                "detail": pa.array([e[2] for e in entries], pa.string()),
                "record_id": pa.array([e[3] for e in entries], pa.string()),
                "raw_text": pa.array([_faithful_text(e[0].original) for e in entries], pa.string()),
                "quarantined_at": pa.repeat(pa.scalar(self.ingested_at, _UTC_MICROS), len(entries)),
            }
        )
        inserted, _ = append_new(
            self.store, f"{RAW_SCHEMA}.quarantine", "quarantine_id", rows, compare_hash=False
        )
        return len(quarantine) - inserted


def _texts(raws: list[bytes]) -> pa.Array:
    """Lines of UTF-8 text as one string array: one copy of the bytes, checked in Arrow
    (pa.array over a list of bytes objects grows its buffer a value at a time)."""
    offsets = numpy.zeros(len(raws) + 1, numpy.int64)
    numpy.cumsum(numpy.fromiter(map(len, raws), numpy.int64, len(raws)), out=offsets[1:])
    data = b"".join(raws)
    texts = pa.LargeStringArray.from_buffers(len(raws), pa.py_buffer(offsets), pa.py_buffer(data))
    texts.validate(full=True)
    return texts


def _faithful_text(original: bytes | str) -> str:
    """A line's text as both targets can store it: bytes that are not UTF-8 appear as
    \\xNN escapes, and NUL (which PostgreSQL text cannot hold) as \\x00."""
    if isinstance(original, bytes):
        text = original.decode("utf-8", "backslashreplace")
    else:
        text = original.encode("utf-8", "surrogatepass").decode("utf-8", "backslashreplace")
    return text.replace("\x00", "\\x00")
