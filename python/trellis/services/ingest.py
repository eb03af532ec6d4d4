"""Load gateway log files into raw.requests / raw.feedback (contract section 4).

One path for every input: lines of JSON text in bounded chunks
(trellis.services.line_chunks) are screened (trellis.services.screening:
a JSON pass in C, or msgspec, and Arrow checks built from the contract clear
the lines that surely pass); the rest, gathered, are classified by the validation SQL
in an in-memory DuckDB (trellis.services.contract), the one source of
quarantine reasons. Then the rows are appended to the target
through the Store interface (`insert_new`, `stored_twins`: the same
statements on DuckDB and PostgreSQL). `ingest_records` (replay and judge
runners) feeds the very same pipeline.

Three stages overlap: a reader thread splits and hashes the next chunks (and
marks their suspect lines for the msgspec screen), a validator thread screens
them (some 5 us a line, mostly outside the GIL in C) and has the SQL classify
what a group of chunks left (validation.classified), and the calling thread
appends each chunk as soon as it is validated (DuckDB or psycopg). The reader
runs READ_AHEAD chunks ahead, the validator VALIDATE_AHEAD, both at a lower
priority (HELPER_NICE). Inputs of PROCESS_MIN_BYTES or more are read and
screened in a child process instead (trellis.services.screen_worker):
DuckDB's client takes the GIL back several times a statement, each time
waiting for a thread that runs Python (measured: 33 appends of 3,000 requests
took 2.6 s instead of 1.0 beside a pure-Python loop), and on large inputs the
reader's and the screen's remaining Python work adds up. While the child
starts, the first chunks take the thread path here (see _Ingestion.headed).
Appends run in transactions of up to COMMIT_LINES lines, so DuckDB writes
whole row groups straight to the file.

Within a chunk, a later occurrence of an id is judged against the first in
memory (see _append_repeats); across chunks, against the stored row, for
all chunks at once when the ingest ends (see _Pending), with the
quarantine rows.

Idempotence: a record whose id is stored with the same `record_hash` is a
duplicate; with another hash it is a `conflict` (quarantined, the stored row
untouched) when its content really differs. Key order, whitespace, escapes
and number spelling never make a false conflict: the C screen's record_hash
fingerprints the content, not the text (screening.is_content_hash), so two
such hashes differ only when the contents do; a record without one (the SQL
or the msgspec screen cleared it, or it was stored before) is compared with
the stored record parsed (same_content). Within one batch the first
occurrence of an id wins.

Quarantine rows have a stable id (kind, file, line, text), so re-ingesting a
bad file adds no rows; the report still counts those lines as quarantined
and says how many of them were already known.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from trellis.arrow_rows import UTC_TIMESTAMP, pick
from trellis.config import RAW_SCHEMA
from trellis.errors import TrellisError
from trellis.services.contract import CONFLICT, KIND_SPECS, RECORD_KINDS
from trellis.services.line_chunks import (
    TextPosition,
    is_parquet,
    iter_file_chunks,
    iter_record_chunks,
    iter_text_chunks,
)
from trellis.services.read_ahead import read_ahead
from trellis.services.screen_worker import (
    PROCESS_MIN_BYTES,
    ScreeningProcess,
    screened_in_process,
)
from trellis.services.screening import Screen, ScreenedChunk, is_content_hash, screened_chunk
from trellis.services.validation import CHECKED_SCHEMA, GROUP_CHUNKS, Validator, classified
from trellis.storage import Store

__all__ = ["IngestReport", "ingest_files", "ingest_records", "quarantine_id"]

#: Lines per append transaction: a crash loses at most this much work (a
#: re-run redoes it, idempotently), and DuckDB writes the full row groups of
#: a transaction straight to the database file.
COMMIT_LINES = 500_000
#: Bytes of rows an ingest may hold for its next flush (see _Pending).
PENDING_BYTES = 64 * 1024 * 1024
#: Chunks the reader thread may hold ready ahead of the validator.
READ_AHEAD = 1
#: Validated chunks the validator thread may hold ready ahead of the appends:
#: a whole group (see validation.classified), so it screens the next group
#: while this one is appended.
VALIDATE_AHEAD = GROUP_CHUNKS
#: How much lower the reader's and the validator's thread priority is than the
#: appending thread's (nice, Linux). The appends are the slower stage, and on
#: 2 cores the three threads outnumber the cores: at equal priority the
#: appending thread waited 0.21-0.31 s for a core in a 100k-request ingest,
#: at +10 0.04-0.13 s (the ingest took 2.31 s, median of 6, instead of 2.38).
HELPER_NICE = 10

_Item = TypeVar("_Item")

#: Called after each chunk with (source, lines read so far in it).
ProgressCallback = Callable[[str, int], None]


@dataclass
class IngestReport:
    """What one ingest call did. `quarantined` maps reason code -> lines."""

    loaded: int = 0
    duplicates: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    #: Of the quarantined lines, how many raw.quarantine already held (an
    #: earlier run of the same file).
    already_quarantined: int = 0

    @property
    def total_quarantined(self) -> int:
        return sum(self.quarantined.values())

    def _add_quarantined(self, reasons: Counter[str]) -> None:
        for reason, count in reasons.items():
            self.quarantined[reason] = self.quarantined.get(reason, 0) + count


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
    files = _unique_files(paths)
    with _Ingestion(store, kind) as ingestion:
        ingestion.report.files += [str(path) for path in files]
        if sum(path.stat().st_size for path in files) >= PROCESS_MIN_BYTES:
            with screened_in_process(ingestion.kind, files) as child:
                items = ingestion.headed(files, child)
                ingestion.run(items, ingestion.validated, on_progress)
        else:
            chunks = (
                (str(path), ingestion.marked(chunk))
                for path in files
                for chunk in iter_file_chunks(path)
            )
            ingestion.run(chunks, ingestion.screened, on_progress)
        return ingestion.report


def ingest_records(
    store: Store,
    kind: str,
    records: Iterable[Mapping[str, Any]],
    source: str,
) -> IngestReport:
    """Ingest records built in memory; `source` names them in source_file.

    The records are serialized to JSON lines and take the same path as a
    file, so validation, dedup and quarantine cannot drift apart.
    """
    with _Ingestion(store, kind) as ingestion:
        ingestion.report.files.append(source)
        chunks = ((source, ingestion.marked(chunk)) for chunk in iter_record_chunks(records))
        ingestion.run(chunks, ingestion.screened, None)
        return ingestion.report


def quarantine_id(kind: str, source_file: str, source_line: int, raw_text: str) -> str:
    """Stable id of a quarantined line (the SQL twin is in _CHECKED_SQL)."""
    key = f"{kind}\n{source_file}\n{source_line}\n{raw_text}"
    return hashlib.md5(key.encode("utf-8")).hexdigest()


def same_record(record_hash: str, text: str, other_hash: str | None, other_text: str) -> bool:
    """Whether two records (their record_hash and JSON text) hold the same content:
    by their hashes where those tell (hashes_tell), else compared parsed."""
    if hashes_tell(record_hash, other_hash):
        return record_hash == other_hash
    return same_content(text, other_text)


def hashes_tell(record_hash: str, other_hash: str | None) -> bool:
    """Whether two records' hashes alone tell if they hold the same content: equal hashes
    do (same text, or same content); two content fingerprints do."""
    return record_hash == other_hash or (
        other_hash is not None and is_content_hash(record_hash) and is_content_hash(other_hash)
    )


def same_content(text: str, other: str) -> bool:
    """Whether two JSON texts hold the same value, however spelled.

    Key order, whitespace, escapes and number spelling (1, 1.0, 1e0) do not
    matter; types do: `true` is not `1`, `"1"` is not `1`. Numbers compare
    exactly (integers, or decimals). Past the parsers' nesting limit the
    texts must match.
    """
    try:
        return _same_value(_parsed(text), _parsed(other))
    except RecursionError:
        return text == other


#: msgspec's JSON reader, numbers exact (some 5 times json's speed here).
_decode_exact = msgspec.json.Decoder(float_hook=Decimal).decode


def _parsed(text: str) -> Any:
    try:
        return _decode_exact(text)
    except msgspec.DecodeError:  # json reads what msgspec refuses: a lone surrogate escape
        return json.loads(text, parse_float=Decimal, parse_int=Decimal)


def _same_value(value: Any, other: Any) -> bool:
    if isinstance(value, dict):
        return (
            isinstance(other, dict)
            and value.keys() == other.keys()
            and all(_same_value(item, other[key]) for key, item in value.items())
        )
    if isinstance(value, list):
        return (
            isinstance(other, list)
            and len(value) == len(other)
            and all(_same_value(a, b) for a, b in zip(value, other, strict=True))
        )
    if _is_number(value):
        return _is_number(other) and value == other
    return type(value) is type(other) and value == other


def _is_number(value: Any) -> bool:
    # bool is an int to Python, and Decimal(1) == True
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def _unique_files(paths: Sequence[Path]) -> list[Path]:
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


@dataclass(frozen=True)
class _Validated:
    """One chunk, classified: its quarantine rows and its valid rows (raw table columns),
    the first occurrence of each id apart from later ones (None: no id repeats), and the
    first occurrences of the ids that repeat (None: none)."""

    source: str
    lines: int
    quarantine: pa.Table
    firsts: pa.Table
    later: pa.Table | None
    repeated: pa.Table | None


class _Ingestion:
    """One ingest call: a validator connection, a batch time, a running report."""

    def __init__(self, store: Store, kind: str) -> None:
        if kind not in RECORD_KINDS:
            raise TrellisError(f"unknown record kind {kind!r}: choose requests or feedback")
        self.spec = KIND_SPECS[kind]  # type: ignore[index]
        self.store = store
        self.kind = self.spec.kind
        self.table = f"{RAW_SCHEMA}.{self.spec.table}"
        self.ingested_at = dt.datetime.now(dt.UTC)
        self.report = IngestReport()
        self._pending = _Pending()

    def __enter__(self) -> _Ingestion:
        return self

    def __exit__(self, *exc: object) -> None:
        if "_validator" in self.__dict__:  # made on first use (see below)
            self._validator.close()

    # Screen and validator of this process: large inputs are screened and
    # validated in the screening process, so these are made when first used.
    @functools.cached_property
    def _screen(self) -> Screen:
        return Screen(self.kind)

    @functools.cached_property
    def _validator(self) -> Validator:
        return Validator(self.kind)

    def marked(self, chunk: pa.Table) -> pa.Table:
        """A line chunk made ready for this process's screen (see Screen.marked)."""
        return self._screen.marked(chunk)

    def run(
        self,
        items: Iterator[_Item],
        validating: Callable[[Iterator[_Item]], Iterator[_Validated]],
        on_progress: ProgressCallback | None,
    ) -> None:
        """Validate items on a worker thread while this thread appends them, in order.

        `items` are the chunks of every source of the call in a row, so the
        stages stay busy across files: (source, line chunk) pairs screened
        on the worker thread (`screened`), or chunks screened in the child
        process (`validated`). A reader thread keeps the next item
        ready; the validator works up to VALIDATE_AHEAD items ahead, and an
        item is appended as soon as it is validated (not once the next one
        has arrived: at the start of a large ingest that waited for the
        child's second chunk). Appends are committed every COMMIT_LINES
        lines and at the end.
        """
        lines: Counter[str] = Counter()
        with (
            read_ahead(items, READ_AHEAD, nice=HELPER_NICE) as ready,
            read_ahead(validating(ready), VALIDATE_AHEAD, "trellis-validate", HELPER_NICE) as done,
            _Committer(self.store, COMMIT_LINES, self._flush_quarantine) as committer,
        ):
            for table in (self.table, f"{RAW_SCHEMA}.quarantine"):  # while the first chunk is read
                self.store.prepare_append(table)
            for part in done:
                lines[part.source] += committer.add(self._store(part))
                if on_progress:
                    on_progress(part.source, lines[part.source])
            self._flush()  # in the last transaction

    def headed(self, files: Sequence[Path], child: ScreeningProcess) -> Iterator[ScreenedChunk]:
        """The chunks of `files`: the first ones read and screened here while the screening
        process starts (some 0.3 s, in which this process would wait), the rest by it.

        Reading stops at the first chunk end after the child is ready (a Parquet
        file is left to the child whole) and the child reads on from there.
        """
        for number, path in enumerate(files):
            if child.ready() or is_parquet(path):
                yield from child.screened(number, TextPosition())
                return
            for chunk, after in iter_text_chunks(path, TextPosition()):
                yield screened_chunk(self._screen, str(path), self.marked(chunk))
                if child.ready():
                    yield from child.screened(number, after)
                    return
        yield from child.screened(len(files), TextPosition())  # all read here

    def screened(self, items: Iterator[tuple[str, pa.Table]]) -> Iterator[_Validated]:
        """Screen (source, line chunk) pairs here, then as `validated`."""
        return self.validated(
            screened_chunk(self._screen, source, chunk) for source, chunk in items
        )

    def validated(self, items: Iterator[ScreenedChunk]) -> Iterator[_Validated]:
        """Screened chunks as valid and quarantine rows, in order. The SQL decides the
        lines a chunk left, a group of chunks a call (validation.classified), with their
        chunk, so the first occurrence of an id wins in line order whichever side judged it.
        Chunks of the screening process come decided. Runs on the validator thread only.
        """
        for item, decided in classified(
            items, lambda item: (item.source, item.left), lambda: self._validator
        ):
            if decided is None:
                decided = item.decided if item.decided is not None else CHECKED_SCHEMA.empty_table()
            yield self._classified(item, decided)

    def _classified(self, item: ScreenedChunk, checked: pa.Table) -> _Validated:
        """One screened chunk, its left lines classified (`checked`), as rows."""
        is_valid = pc.is_null(checked.column("reason"))
        valid = self._valid_rows(item.source, item.cleared)
        if checked.num_rows:
            accepted = self._valid_rows(item.source, checked.filter(is_valid))
            valid = pa.concat_tables([valid, accepted])
        quarantine = self._quarantine_rows(item.source, checked.filter(pc.invert(is_valid)))
        # here, not where the chunk is appended: the appending thread is the slower stage
        return _Validated(item.source, item.lines, quarantine, *self._split_repeats(valid))

    def _valid_rows(self, source: str, rows: pa.Table) -> pa.Table:
        """Classified or cleared lines (`line`, `record_hash`, ...) shaped like the raw table
        (its columns in KindSpec.columns order)."""
        count = rows.num_rows
        values: dict[str, Any] = {
            self.spec.id_column: rows.column("record_id"),
            "tenant_id": rows.column("tenant_id"),
            "created_at": rows.column("created_at"),
            "record_hash": rows.column("record_hash"),
            "record": rows.column("line"),
            "source_file": pa.repeat(source, count),
            "source_line": rows.column("source_line"),
            "ingested_at": pa.repeat(pa.scalar(self.ingested_at, UTC_TIMESTAMP), count),
        }
        if self.spec.parent_column:
            values[self.spec.parent_column] = rows.column("parent_id")
        return pa.table({column: values[column] for column in self.spec.columns})

    def _quarantine_rows(self, source: str, checked: pa.Table) -> pa.Table:
        """Rejected lines (CHECKED_SCHEMA's quarantine columns) as raw.quarantine rows."""
        count = checked.num_rows
        return pa.table(
            {
                "quarantine_id": checked.column("quarantine_id"),
                "record_kind": pa.repeat(self.kind, count),
                "source_file": pa.repeat(source, count),
                "source_line": checked.column("source_line"),
                "reason": checked.column("reason"),
                "detail": checked.column("detail"),
                "record_id": checked.column("record_id"),
                "raw_text": checked.column("line"),
                "quarantined_at": pa.repeat(pa.scalar(self.ingested_at, UTC_TIMESTAMP), count),
            }
        )

    def _store(self, validated: _Validated) -> int:
        """Append one validated chunk to the target; returns its line count.

        Rows whose id is stored already are judged later, many chunks at
        once (see _Pending), as are the chunk's quarantine rows inserted.
        """
        source = validated.source
        self._pending.add_quarantine(validated.quarantine)
        firsts, later = validated.firsts, validated.later
        stored = self._insert(firsts)
        if stored:
            # copies of these few rows: the chunk's memory is not held for them
            twins = firsts.filter(self._of_ids(firsts, stored))
            twin_repeats = None
            if later is not None:
                again = self._of_ids(later, stored)
                if pc.any(again).as_py():
                    twin_repeats = later.filter(again)
                    later = later.filter(pc.invert(again))
            self._pending.add_twins(source, twins, twin_repeats)
        if later is not None and later.num_rows:
            # their first occurrence was inserted just now: judged against it here
            assert validated.repeated is not None
            for rejected in self._append_repeats(source, validated.repeated, later, set()):
                self._pending.add_quarantine(rejected)
        if self._pending.nbytes >= PENDING_BYTES:
            self._flush()
        return validated.lines

    def _flush_quarantine(self) -> None:
        """Before a periodic commit: insert the pending quarantine rows, and only them.

        The pending rows of stored ids wait for the next full flush (at
        PENDING_BYTES or at the end): judging them fetches the stored records
        with one scan of the table (0.8 s at 500k stored requests), so once an
        ingest instead of once a commit more. A crash in between loses only
        judgements: nothing of those rows was written, and a re-run reads and
        judges them again.
        """
        self._quarantine(self._pending.take_quarantine())

    def _flush(self) -> None:
        """Judge the pending rows of stored ids and insert the pending quarantine rows.

        The stored twins of each source are looked up in one go: on DuckDB
        that commits the open transaction first (see DuckDBStore.stored_twins).
        """
        pending, self._pending = self._pending, _Pending()
        rejected = pending.quarantine
        for source, items in pending.twins.items():
            twins = pa.concat_tables([item for item, _ in items])
            conflicts = self._conflict_rows(source, self._twin_conflicts(twins))
            rejected.append(conflicts)
            for item, repeats in items:
                if repeats is not None:
                    lines = pc.is_in(conflicts.column("source_line"), item.column("source_line"))
                    conflicted = set(conflicts.filter(lines).column("record_id").to_pylist())
                    rejected += self._append_repeats(source, item, repeats, conflicted)
        self._quarantine(rejected)

    def _split_repeats(self, rows: pa.Table) -> tuple[pa.Table, pa.Table | None, pa.Table | None]:
        """The first occurrence of each id, the later ones, and the first occurrences of the
        ids that repeat (None, None: no repeats).

        Only the rows of repeated ids are looked at in Python; they are few.
        """
        ids = rows.column(self.spec.id_column)
        counts = pc.value_counts(ids)
        repeated = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
        if len(repeated) == 0:  # the usual case
            return rows, None, None
        positions = pc.indices_nonzero(pc.is_in(ids, value_set=repeated))
        again = pa.table(
            {
                "position": positions,
                "id": ids.take(positions),
                "source_line": rows.column("source_line").take(positions),
            }
        ).sort_by("source_line")
        seen: set[str] = set()
        later: list[int] = []
        for position, record_id in zip(
            again.column("position").to_pylist(), again.column("id").to_pylist(), strict=True
        ):
            if record_id in seen:
                later.append(position)
            seen.add(record_id)
        # the first occurrences keep their place: zero-copy slices around the later ones
        keep = sorted(set(range(rows.num_rows)) - set(later))
        firsts_of_repeated = sorted(set(again.column("position").to_pylist()) - set(later))
        return pick(rows, keep), pick(rows, sorted(later)), pick(rows, firsts_of_repeated)

    def _rounds(self, rows: pa.Table) -> Iterator[pa.Table]:
        """`rows` split so no id repeats within a round: first occurrences, then seconds..."""
        left: pa.Table | None = rows
        while left is not None and left.num_rows:
            firsts, left, _ = self._split_repeats(left)
            yield firsts

    def _insert(self, rows: pa.Table) -> list[Any]:
        """Insert the rows of new ids (unique within `rows`); the ids found stored."""
        stored = self.store.insert_new(self.table, self.spec.id_column, rows)
        self.report.loaded += rows.num_rows - len(stored)
        return stored

    def _append(self, source: str, rows: pa.Table) -> pa.Table:
        """Insert the new rows (ids unique within them); return quarantine rows for conflicts.

        The primary key skips stored ids; only when some were skipped are
        they compared with the stored rows.
        """
        stored = self._insert(rows)
        if not stored:
            return self._conflict_rows(source, [])
        twins = rows.filter(self._of_ids(rows, stored))
        return self._conflict_rows(source, self._twin_conflicts(twins))

    def _of_ids(self, rows: pa.Table, ids: list[Any]) -> pa.ChunkedArray:
        """Which of `rows` have one of `ids`."""
        column = rows.column(self.spec.id_column)
        return pc.is_in(column, value_set=pa.array(ids, column.type))

    def _twin_conflicts(self, twins: pa.Table) -> list[tuple[int, str, str]]:
        """(source_line, id, text) of the rows of stored ids that conflict; the rest are
        duplicates. A row stored with another hash conflicts when both hashes are content
        fingerprints; otherwise the stored record is fetched and compared by content
        (same_record): spelled differently, it is a duplicate too."""
        differing = self.store.stored_twins(self.table, self.spec.id_column, twins)
        found: list[tuple[int, str, str]] = []
        if differing:
            lines = pa.array([line for line, _, _ in differing], pa.int64())
            wanted = twins.filter(pc.is_in(twins.column("source_line"), value_set=lines))
            rows = dict(
                zip(
                    wanted.column("source_line").to_pylist(),
                    zip(
                        wanted.column("record_hash").to_pylist(),
                        wanted.column("record").to_pylist(),
                        strict=True,
                    ),
                    strict=True,
                )
            )
            unsure = {
                record_id
                for line, record_id, stored_hash in differing
                if not hashes_tell(rows[line][0], stored_hash)
            }
            stored = (
                self.store.records_by_key(self.table, self.spec.id_column, sorted(unsure))
                if unsure
                else {}
            )
            for line, record_id, stored_hash in differing:
                record_hash, text = rows[line]
                if not same_record(record_hash, text, stored_hash, stored.get(record_id, "")):
                    found.append((line, record_id, text))
        self.report.duplicates += twins.num_rows - len(found)
        return found

    def _append_repeats(
        self, source: str, firsts: pa.Table, later: pa.Table, conflicted: set[str]
    ) -> list[pa.Table]:
        """Later occurrences of ids of one chunk, judged against the first occurrence in memory.

        `firsts` holds the first occurrence of each id of `later` (and maybe a few
        others); `conflicted`, the ids whose first occurrence conflicted with a
        stored record. A later occurrence identical to the first (same hash, or
        same parsed content) shares its fate: a duplicate, or a conflict when
        the first conflicted. A different one conflicts with the first, now
        stored, unless the first itself conflicted: then only the stored record
        can tell, and those few are compared in the store.
        """
        key = self.spec.id_column
        first = dict(
            zip(
                firsts.column(key).to_pylist(),
                zip(
                    firsts.column("record_hash").to_pylist(),
                    firsts.column("record").to_pylist(),
                    strict=True,
                ),
                strict=True,
            )
        )
        found: list[tuple[int, str, str]] = []
        unresolved: list[int] = []
        for record_id, line, record_hash, text in zip(
            later.column(key).to_pylist(),
            later.column("source_line").to_pylist(),
            later.column("record_hash").to_pylist(),
            later.column("record").to_pylist(),
            strict=True,
        ):
            same = same_record(record_hash, text, *first[record_id])
            if same and record_id not in conflicted:
                self.report.duplicates += 1
            elif same or record_id not in conflicted:
                found.append((line, record_id, text))
            else:
                unresolved.append(line)
        rejected = [self._conflict_rows(source, found)] if found else []
        if unresolved:
            lines = pa.array(unresolved, pa.int64())
            rows = later.filter(pc.is_in(later.column("source_line"), value_set=lines))
            rejected += [self._append(source, batch) for batch in self._rounds(rows)]
        return rejected

    def _conflict_rows(self, source: str, found: list[tuple[int, str, str]]) -> pa.Table:
        """Quarantine rows for (source_line, record id, text) lines that conflict."""
        checked = pa.table(
            {
                "quarantine_id": [
                    quarantine_id(self.kind, source, line, text) for line, _, text in found
                ],
                "source_line": [line for line, _, _ in found],
                "reason": [CONFLICT] * len(found),
                "detail": [
                    f"{self.spec.id_column} {record_id!r} is already stored "
                    "with different content; the stored record is kept"
                    for _, record_id, _ in found
                ],
                "record_id": [record_id for _, record_id, _ in found],
                "line": [text for _, _, text in found],
            },
            schema=_QUARANTINED_SCHEMA,
        )
        return self._quarantine_rows(source, checked)

    def _quarantine(self, tables: list[pa.Table]) -> None:
        """Insert quarantine rows, gathered in one table."""
        # (pyarrow's CSV writer garbles a table whose first chunk is empty)
        found = [table for table in tables if table.num_rows]
        if not found:
            return
        rows = pa.concat_tables(found)
        stored = self.store.insert_new(f"{RAW_SCHEMA}.quarantine", "quarantine_id", rows)
        self.report.already_quarantined += len(stored)
        self.report._add_quarantined(Counter(rows.column("reason").to_pylist()))


#: The columns of a validation result (validation.CHECKED_SCHEMA) quarantine rows are made of.
_QUARANTINED_SCHEMA = pa.schema(
    [
        CHECKED_SCHEMA.field(name)
        for name in ("quarantine_id", "source_line", "reason", "detail", "record_id", "line")
    ]
)


@dataclass
class _Pending:
    """What appends leave for the next flush (_Ingestion._flush), many chunks at once.

    Quarantine rows: one insert instead of one a chunk (each costs some 4 ms
    on DuckDB). Rows whose id was stored already, with their later repeats
    in the chunk: their stored twins are looked up for all chunks of a
    source at once, which on DuckDB commits the open transaction (once, not
    once a chunk: a 1M-request ingest committed ten times), and fetches the
    stored records to compare with one scan.

    A flush runs once PENDING_BYTES are held and before the last commit;
    the periodic commits (every COMMIT_LINES lines) insert the quarantine
    rows first, and the rows of stored ids wait (see _flush_quarantine).
    """

    quarantine: list[pa.Table] = field(default_factory=list)
    #: source -> (rows of stored ids, their later repeats in the same chunk), chunk by chunk
    twins: dict[str, list[tuple[pa.Table, pa.Table | None]]] = field(default_factory=dict)
    nbytes: int = 0

    def add_quarantine(self, rows: pa.Table) -> None:
        if rows.num_rows:
            self.quarantine.append(rows)
            self.nbytes += rows.nbytes

    def take_quarantine(self) -> list[pa.Table]:
        """The quarantine rows, no longer held."""
        taken, self.quarantine = self.quarantine, []
        self.nbytes -= sum(rows.nbytes for rows in taken)
        return taken

    def add_twins(self, source: str, twins: pa.Table, repeats: pa.Table | None) -> None:
        self.twins.setdefault(source, []).append((twins, repeats))
        self.nbytes += twins.nbytes + (repeats.nbytes if repeats is not None else 0)


class _Committer:
    """Keeps one store transaction open, committing it every `every` lines.

    `before_commit` runs in the transaction before each commit but the last
    (the caller runs it then itself).
    """

    def __init__(self, store: Store, every: int, before_commit: Callable[[], None]) -> None:
        self._store = store
        self._every = every
        self._before_commit = before_commit
        self._lines = 0
        self._stack = ExitStack()

    def __enter__(self) -> _Committer:
        self._stack.enter_context(self._store.transaction())
        return self

    def add(self, lines: int) -> int:
        """Count `lines` as appended; commit and open a new transaction past the limit."""
        self._lines += lines
        if self._lines >= self._every:
            self._before_commit()
            self._stack.close()
            self._stack.enter_context(self._store.transaction())
            self._lines = 0
        return lines

    def __exit__(self, *exc: Any) -> bool | None:
        return self._stack.__exit__(*exc)
