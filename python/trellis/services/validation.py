"""The validation SQL run on line chunks: every line classified, with its reason if any.

The SQL (trellis.services.contract) is the reference for what is valid and
why not. Ingest runs it on the lines the screen (trellis.services.screening)
did not clear, chunk by chunk, in an in-memory DuckDB: on its validator
thread, or in the screening process (trellis.services.screen_worker).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from trellis.arrow_rows import UTC_TIMESTAMP
from trellis.errors import TrellisError
from trellis.services.contract import RecordKind, validation_sql
from trellis.services.line_chunks import CHUNK_SCHEMA
from trellis.storage.duckdb_store import connect_duckdb

__all__ = ["CHECKED_SCHEMA", "GROUP_CHUNKS", "Validator", "classified"]

_Item = TypeVar("_Item")

#: Chunks whose left lines the SQL classifies in one call, at most (see classified).
GROUP_CHUNKS = 4

#: Budget of the in-memory DuckDB that validates chunks: a cap, not a
#: reservation. Ordinary chunks use a fraction of it (record batches are
#: bounded in bytes, see line_chunks); the rest lets a 12 MB record through
#: (measured). Larger ones fall back to Validator._checked_large.
VALIDATOR_MEMORY_LIMIT = "256MB"
#: Budget of the one-thread DuckDB a chunk falls back to when the validator
#: runs out of memory on it: JSON functions hold several times a record while
#: they work on it. Measured: a 30 MB record passes (the process peaks at
#: 310 MiB); a 100 MB one fails the ingest with a one-line error.
LARGE_RECORD_MEMORY_LIMIT = "1GB"
#: Chunks of up to this many bytes of text are classified by a statement
#: prepared once over a table they are copied into: planning the SQL costs
#: some 20 ms a call, executing it on a few lines 3 ms, and the screen
#: leaves a few lines in most chunks. Larger ones are scanned in place, a
#: record batch at a time (see line_chunks._chunk), and planned each time.
PREPARED_MAX_BYTES = 4 * 1024 * 1024
#: Text the staged table may have held before it is made anew: DuckDB keeps
#: the memory of deleted rows of a temporary table (4 MB a call grew it by
#: 4 MB a call, measured).
RESTAGE_BYTES = 64 * 1024 * 1024
#: The table the prepared statement reads, and the view of a chunk scanned in place.
_STAGED_TABLE = "staged_lines"
_ARROW_VIEW = "arrow_lines"

#: Every line of a chunk but blank ones, in order, classified.
_CHECKED_SQL = """
with chunk as (select * from {source}), checked as ({validation})
select
    source_line,
    reason,
    detail,
    record_id,
    parent_id,
    tenant_id,
    created_at,
    case
        when reason is not null
            then md5($kind::varchar || chr(10) || $source_file::varchar || chr(10)
                || source_line::varchar
                || chr(10) || raw_text)
    end as quarantine_id
from checked
"""

#: What Validator.checked returns: the SQL's columns, then the line's hash and text.
CHECKED_SCHEMA = pa.schema(
    [
        ("source_line", pa.int64()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("record_id", pa.string()),
        ("parent_id", pa.string()),
        ("tenant_id", pa.string()),
        ("created_at", UTC_TIMESTAMP),
        ("quarantine_id", pa.string()),
        ("record_hash", pa.string()),
        ("line", pa.large_string()),
    ]
)


class Validator:
    """An in-memory DuckDB that runs the validation SQL of one record kind."""

    def __init__(self, kind: RecordKind) -> None:
        self.kind = kind
        self._sql = _CHECKED_SQL.format(validation=validation_sql(kind), source=_ARROW_VIEW)
        self._large_sql = _CHECKED_SQL.format(
            validation=validation_sql(kind, True), source=_ARROW_VIEW
        )
        self._prepared_sql = _CHECKED_SQL.format(
            validation=validation_sql(kind), source=_STAGED_TABLE
        )
        self._conn = connect_duckdb(":memory:", VALIDATOR_MEMORY_LIMIT)
        # DuckDB creates its spill folder only when it spills, and removes it.
        spill = Path(tempfile.gettempdir()) / f"trellis-ingest-{os.getpid()}-{id(self):x}"
        self._conn.execute("set temp_directory = ?", [str(spill)])
        # one thread for the prepared statement's few lines (6 ms of CPU a call
        # instead of 10); lines scanned in place get every core (see below)
        self._threads = self._conn.execute("select current_setting('threads')").fetchall()[0][0]
        self._conn.execute("set threads = 1")
        #: Text copied into the staged table since it was made (0: not made yet).
        self._staged_bytes = 0

    def close(self) -> None:
        self._conn.close()

    def checked(self, source: str, chunk: pa.Table) -> pa.Table:
        """Each non-blank line of `chunk` (CHUNK_SCHEMA) classified (CHECKED_SCHEMA)."""
        parameters = {"kind": self.kind, "source_file": source}
        try:
            try:
                if chunk.column("line").nbytes <= PREPARED_MAX_BYTES:
                    checked = self._checked_prepared(chunk, source)
                else:
                    checked = self._checked_in_place(chunk, parameters)
            except duckdb.OutOfMemoryException:
                checked = self._checked_large(chunk, parameters)
        except duckdb.Error as exc:
            message = str(exc).strip().splitlines()[0]
            raise TrellisError(f"validating {source} failed: {message}") from exc
        texts, hashes = chunk.column("line"), chunk.column("record_hash")
        if checked.num_rows < chunk.num_rows:  # blank lines were skipped
            positions = pc.index_in(checked.column("source_line"), chunk.column("source_line"))
            texts, hashes = texts.take(positions), hashes.take(positions)
        checked = checked.append_column("record_hash", hashes).append_column("line", texts)
        return checked.cast(CHECKED_SCHEMA)

    def checked_apart(self, parts: Sequence[tuple[str, pa.Table]]) -> list[pa.Table | None]:
        """The lines of several chunks, (source, chunk) pairs, classified with one `checked`
        call a source: each chunk's own rows, in order (None: a chunk of no lines)."""
        decided: list[pa.Table | None] = [None] * len(parts)
        for source in dict.fromkeys(source for source, chunk in parts if chunk.num_rows):
            mine = [i for i, (of, chunk) in enumerate(parts) if of == source and chunk.num_rows]
            checked = self.checked(source, pa.concat_tables([parts[i][1] for i in mine]))
            lines = checked.column("source_line")
            for i in mine:
                decided[i] = checked.filter(
                    pc.is_in(lines, value_set=parts[i][1].column("source_line"))
                )
        return decided

    def _checked_prepared(self, chunk: pa.Table, source: str) -> pa.Table:
        """The SQL, prepared once, over a copy of `chunk` in a table of its own."""
        conn = self._conn
        staged_bytes = chunk.column("line").nbytes
        if self._staged_bytes + staged_bytes > RESTAGE_BYTES:
            self._staged_bytes = 0  # made anew below: deleted rows keep their memory
        if not self._staged_bytes:
            columns = ", ".join(
                f"{field.name} {_DUCKDB_TYPES[field.type]}" for field in CHUNK_SCHEMA
            )
            conn.execute(f"create or replace temp table {_STAGED_TABLE} ({columns})")
            # the parameters are typed in the SQL: untyped, DuckDB plans anew at each EXECUTE
            conn.execute(f"prepare checked_lines as {self._prepared_sql}")
        else:
            conn.execute(f"delete from {_STAGED_TABLE}")
        self._staged_bytes += max(staged_bytes, 1)
        staged = chunk.select(CHUNK_SCHEMA.names)  # noqa: F841 (read by the SQL)
        conn.execute(f"insert into {_STAGED_TABLE} select * from staged")
        # EXECUTE takes no bound parameters: the values are SQL literals
        return conn.execute(
            f"execute checked_lines(kind := {_literal(self.kind)}, "
            f"source_file := {_literal(source)})"
        ).to_arrow_table()

    def _checked_in_place(self, chunk: pa.Table, parameters: dict[str, str]) -> pa.Table:
        """The SQL planned for this call, scanning `chunk` where it lies."""
        self._conn.register(_ARROW_VIEW, chunk)
        self._conn.execute(f"set threads = {int(self._threads)}")
        try:
            return self._conn.execute(self._sql, parameters).to_arrow_table()
        finally:
            self._conn.execute("set threads = 1")
            self._conn.unregister(_ARROW_VIEW)

    def _checked_large(self, chunk: pa.Table, parameters: dict[str, str]) -> pa.Table:
        """A chunk with a record too large to write its messages out: the other SQL.

        It runs in a fresh DuckDB on one thread, so nothing of the failed
        attempt (which the first DuckDB frees in its own time) counts against it.
        """
        conn = connect_duckdb(":memory:", LARGE_RECORD_MEMORY_LIMIT)
        try:
            conn.execute("set threads = 1")
            conn.register(_ARROW_VIEW, chunk)
            return conn.execute(self._large_sql, parameters).to_arrow_table()
        finally:
            conn.close()


_DUCKDB_TYPES = {
    pa.int64(): "bigint",
    pa.large_string(): "varchar",
    pa.string(): "varchar",
    pa.bool_(): "boolean",
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def classified(
    items: Iterable[_Item],
    parts: Callable[[_Item], tuple[str, pa.Table]],
    validator: Callable[[], Validator],
) -> Iterator[tuple[_Item, pa.Table | None]]:
    """Screened chunks in order, each with the lines it left classified (None: it left
    none); `parts` gives a chunk's source and those lines, `validator` the Validator (asked
    for only when a line is left).

    The SQL costs some 8 ms a call however few its lines, and the screen
    leaves a line or two in most chunks (demo traffic: 28 chunks of 33): it
    classifies a group of chunks at once (Validator.checked_apart). Groups
    grow 1, 2, then GROUP_CHUNKS chunks, so the first ones come at once; a
    chunk that left no line while none is held goes on alone.
    """
    for group in _groups(items, lambda item: parts(item)[1]):
        split = [parts(item) for item in group]
        if any(lines.num_rows for _, lines in split):
            yield from zip(group, validator().checked_apart(split), strict=True)
        else:
            yield from ((item, None) for item in group)


def _groups(items: Iterable[_Item], left: Callable[[_Item], pa.Table]) -> Iterator[list[_Item]]:
    """`items` in the groups `classified` classifies together."""
    held: list[_Item] = []
    size = 1
    for item in items:
        held.append(item)
        if len(held) == 1 and not left(item).num_rows:
            yield held  # nothing for the SQL and nothing held before it
            held = []
        elif len(held) >= size:
            yield held
            held = []
            size = min(2 * size, GROUP_CHUNKS)
    if held:
        yield held
