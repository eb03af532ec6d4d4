"""The validation SQL run on line chunks: every line classified, with its reason if any.

The SQL (trellis.services.contract) is the reference for what is valid and
why not. Ingest runs it on the lines the screen (trellis.services.screening)
did not clear, chunk by chunk, in an in-memory DuckDB: on its validator
thread, or in the screening process (trellis.services.screen_worker).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from trellis.errors import TrellisError
from trellis.services.contract import RecordKind, validation_sql
from trellis.storage.duckdb_store import connect_duckdb

__all__ = ["CHECKED_SCHEMA", "Validator"]

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

#: Every line of a chunk but blank ones, in order, classified.
_CHECKED_SQL = """
with checked as ({validation})
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
            then md5($kind || chr(10) || $source_file || chr(10) || source_line::varchar
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
        ("created_at", pa.timestamp("us", tz="UTC")),
        ("quarantine_id", pa.string()),
        ("record_hash", pa.string()),
        ("line", pa.large_string()),
    ]
)


class Validator:
    """An in-memory DuckDB that runs the validation SQL of one record kind."""

    def __init__(self, kind: RecordKind) -> None:
        self.kind = kind
        self._sql = _CHECKED_SQL.format(validation=validation_sql(kind))
        self._large_sql = _CHECKED_SQL.format(validation=validation_sql(kind, True))
        self._conn = connect_duckdb(":memory:", VALIDATOR_MEMORY_LIMIT)
        # DuckDB creates its spill folder only when it spills, and removes it.
        spill = Path(tempfile.gettempdir()) / f"trellis-ingest-{os.getpid()}-{id(self):x}"
        self._conn.execute("set temp_directory = ?", [str(spill)])

    def close(self) -> None:
        self._conn.close()

    def checked(self, source: str, chunk: pa.Table) -> pa.Table:
        """Each non-blank line of `chunk` (CHUNK_SCHEMA) classified (CHECKED_SCHEMA)."""
        self._conn.register("chunk", chunk)
        parameters = {"kind": self.kind, "source_file": source}
        try:
            try:
                checked = self._conn.execute(self._sql, parameters).to_arrow_table()
            except duckdb.OutOfMemoryException:
                checked = self._checked_large(chunk, parameters)
        except duckdb.Error as exc:
            message = str(exc).strip().splitlines()[0]
            raise TrellisError(f"validating {source} failed: {message}") from exc
        finally:
            self._conn.unregister("chunk")
        texts, hashes = chunk.column("line"), chunk.column("record_hash")
        if checked.num_rows < chunk.num_rows:  # blank lines were skipped
            positions = pc.index_in(checked.column("source_line"), chunk.column("source_line"))
            texts, hashes = texts.take(positions), hashes.take(positions)
        checked = checked.append_column("record_hash", hashes).append_column("line", texts)
        return checked.cast(CHECKED_SCHEMA)

    def _checked_large(self, chunk: pa.Table, parameters: dict[str, str]) -> pa.Table:
        """A chunk with a record too large to write its messages out: the other SQL.

        It runs in a fresh DuckDB on one thread, so nothing of the failed
        attempt (which the first DuckDB frees in its own time) counts against it.
        """
        conn = connect_duckdb(":memory:", LARGE_RECORD_MEMORY_LIMIT)
        try:
            conn.execute("set threads = 1")
            conn.register("chunk", chunk)
            return conn.execute(self._large_sql, parameters).to_arrow_table()
        finally:
            conn.close()
