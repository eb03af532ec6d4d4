"""The DuckDB target: one database file, opened for the duration of a command."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy
import pyarrow as pa

from trellis.arrow_rows import pick
from trellis.config import TargetName, duckdb_settings
from trellis.errors import TrellisError
from trellis.storage.base import Store, insert_new_sql, stored_twins_sql
from trellis.storage.key_filter import KeyFilter
from trellis.storage.schema import raw_ddl

#: DuckDB's buffer limit; it spills to its temp directory beyond it, so a large
#: ingest runs in bounded memory. TRELLIS_DUCKDB_MEMORY_LIMIT overrides it.
#: During ingest it holds the row groups waiting to be written (see
#: WRITE_BUFFER_ROW_GROUPS) and the primary-key indexes.
DEFAULT_MEMORY_LIMIT = "256MB"
#: Full row groups an append transaction buffers before writing them out
#: (DuckDB's default: 5, 200 MB of requests at ROW_GROUP_ROWS).
WRITE_BUFFER_ROW_GROUPS = 2
#: Threads of trellis' own sessions: they append raw facts and run small
#: lookups, while ingest validates in a separate in-memory DuckDB that uses
#: every core. A second thread here measured 30% more CPU for the same
#: appends (DuckDB's parallel insert contending with the validator).
STORE_THREADS = 1
#: WAL size that triggers a checkpoint (DuckDB's default: 16 MB). Ingest
#: writes whole row groups straight to the file (see `transaction`); what
#: still goes through the WAL (a transaction's last, partial row group) is
#: checkpointed less often.
CHECKPOINT_THRESHOLD = "96MB"
#: Rows per row group this session writes (see connect_duckdb): 40 MB of
#: 2.5 KB requests. Halved the CPU of a 100k-request append (measured).
ROW_GROUP_ROWS = 16_384
#: insert_new looks for stored keys first (one join over the stored key
#: column) while the table holds fewer than this many rows per appended row;
#: past that the join costs more than DuckDB's `on conflict` check.
PRECHECK_MAX_RATIO = 400
#: stored_twins looks up at most this many keys one by one (DuckDB answers a
#: short IN list from the index: ~2 ms for 10 keys); more are joined (~23 ms
#: per million stored rows).
KEY_LOOKUP_MAX = 64
#: records_by_key joins the wanted keys with the table (a scan: some 1 us per
#: stored row, 1 s per million on one thread) once they are more than one per
#: this many stored rows; fewer are looked up by key one by one (some 1 ms
#: each: a zstd-compressed record is decompressed with its neighbours).
FETCH_JOIN_RATIO = 1000
#: Threads of that join: it runs at the end of an ingest (the screening
#: process is done) or at a commit.
FETCH_JOIN_THREADS = 2
#: Tables found empty get a filter of the keys this session inserts
#: (storage/key_filter.py): their appends skip the key join.
KEY_FILTER = True
#: The catalog name of the attached warehouse file in trellis' sessions.
ATTACHED_AS = "warehouse"
#: DuckDB's storage format for what trellis' sessions write (and for a file
#: they create). DuckDB's default, v1.0.0, keeps the compression methods
#: older readers know: the 4.5 KB records of gateway logs went to disk
#: uncompressed (5.4 GB for 1M requests, written and synced at some 380 MB/s
#: on our machines). From v1.2.0 on, DuckDB compresses such long strings
#: with zstd: 254 MB for the same 1M requests, and the append takes half the
#: time (measured: 15.3 to 7.2 us a request). Files need DuckDB 1.5 to be read.
STORAGE_VERSION = "v1.5.0"


class DuckDBStore(Store):
    target: TargetName = "duckdb"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = connect_duckdb(str(path))
        self._conn.execute("set checkpoint_threshold = ?", [CHECKPOINT_THRESHOLD])
        self._conn.execute(f"set write_buffer_row_group_count = {WRITE_BUFFER_ROW_GROUPS}")
        self._conn.execute(f"set threads = {STORE_THREADS}")
        self._columns: dict[str, list[tuple[str, str]]] = {}
        self._row_estimates: dict[str, int] = {}
        self._fresh_tables: dict[str, KeyFilter] = {}
        #: Rows inserted in the open transaction (see stored_twins).
        self._uncommitted = 0
        self._in_transaction = False
        for statement in raw_ddl("duckdb"):
            self._conn.execute(statement)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self._conn.execute(sql, params)

    def insert_new(self, table: str, key: str, rows: pa.Table) -> list[Any]:
        # DuckDB resolves `staged` to a local Arrow table (a replacement
        # scan): unlike a registered view, it is not kept alive by the open
        # transaction until it ends.
        marked = self._json_marked(table, rows)
        stored_rows = self._stored_rows(table)
        fresh = self._fresh_tables.get(table)
        if fresh is not None:
            # the table held nothing when this session began writing to it:
            # keys the filter never saw are surely new
            positions = fresh.positions(rows.column(key))
            maybe = fresh.may_hold(positions)
            surely_new = numpy.flatnonzero(~maybe)
            inserted = self._insert(table, pick(marked, surely_new), skip_stored=False)
            stored: list[Any] = []
            if len(surely_new) < rows.num_rows:
                again = pick(marked, numpy.flatnonzero(maybe))
                stored = self._insert_skipping(table, key, again)
                inserted += again.num_rows - len(stored)
            fresh.add(positions)
        elif stored_rows < PRECHECK_MAX_RATIO * rows.num_rows:
            # `on conflict do nothing` costs some 6.6 us a row (it joins the
            # rows with the index); a join on the key column finds the stored
            # keys for ~16 ns per stored row, and the other rows are then
            # inserted plain.
            staged = marked  # noqa: F841 (read by the SQL)
            keys = rows.column(key).to_pylist()
            found = self._conn.execute(
                f"select {key} from staged inner join {table} using ({key})"
            ).fetchall()
            stored = [row[0] for row in found]
            found_keys = set(stored)
            new = [i for i, value in enumerate(keys) if value not in found_keys]
            inserted = self._insert(table, pick(marked, new), skip_stored=False)
        else:
            stored = self._insert_skipping(table, key, marked)
            inserted = rows.num_rows - len(stored)
        self._row_estimates[table] = stored_rows + inserted
        if self._in_transaction:
            self._uncommitted += inserted
        return stored

    def prepare_append(self, table: str) -> None:
        """Look up the table's size and columns, and have DuckDB scan an Arrow table once:
        its first Arrow scan in a process imports pyarrow.dataset and more (some 45 ms),
        which the first append would wait for."""
        self._stored_rows(table)
        self._column_types(table)
        warm = pa.table({"rows": pa.array([1], pa.int64())})  # noqa: F841 (read by the SQL)
        self._conn.execute("select count(*) from warm").fetchall()

    def _insert(self, table: str, staged: pa.Table, skip_stored: bool) -> int:
        if staged.num_rows == 0:
            return 0
        result = self._conn.execute(
            insert_new_sql(table, staged.column_names, "staged", skip_stored=skip_stored)
        ).fetchall()
        return int(result[0][0]) if result else 0

    def _insert_skipping(self, table: str, key: str, staged: pa.Table) -> list[Any]:
        """`on conflict do nothing` insert of `staged`; the keys it skipped (stored)."""
        returned = self._conn.execute(
            insert_new_sql(table, staged.column_names, "staged") + f" returning {key}"
        ).fetchall()
        inserted = {row[0] for row in returned}
        return [value for value in staged.column(key).to_pylist() if value not in inserted]

    def _stored_rows(self, table: str) -> int:
        """Rows in `table`: DuckDB's estimate once, then kept up to date by insert_new.

        A table found empty gets a key filter (see key_filter): this session
        is then the only writer of its keys.
        """
        if table not in self._row_estimates:
            empty = not self._conn.execute(f"select exists (select 1 from {table})").fetchall()[0][
                0
            ]
            if empty and KEY_FILTER:
                self._fresh_tables[table] = KeyFilter()
            self._row_estimates[table] = 0 if empty else self._estimated_size(table)
        return self._row_estimates[table]

    def _estimated_size(self, table: str) -> int:
        schema, _, name = table.rpartition(".")
        found = self._conn.execute(
            "select estimated_size from duckdb_tables() "
            "where schema_name = ? and table_name = ? and database_name = current_database()",
            [schema, name],
        ).fetchall()
        return int(found[0][0]) if found else 0

    def stored_twins(self, table: str, key: str, rows: pa.Table) -> list[tuple[Any, ...]]:
        if self._uncommitted:
            # Lookups by key answer from the primary-key index for committed
            # rows only; over a large open transaction each one scanned its
            # records (1 s per batch at a million rows). The appends so far
            # are committed first (transaction() commits the rest).
            self._conn.execute("commit")
            self._conn.execute("begin transaction")
            self._uncommitted = 0
        if rows.num_rows <= KEY_LOOKUP_MAX:
            return self.twins_by_lookup(table, key, rows)
        staged = rows.select([key, "source_line", "record_hash"])  # noqa: F841 (read by the SQL)
        return self._conn.execute(stored_twins_sql(table, key, "staged")).fetchall()

    def records_by_key(self, table: str, key: str, keys: Sequence[str]) -> dict[str, str]:
        if len(keys) * FETCH_JOIN_RATIO < self._stored_rows(table):
            return super().records_by_key(table, key, keys)
        wanted = pa.table({key: pa.array(list(keys), pa.string())})  # noqa: F841 (read by the SQL)
        self._conn.execute(f"set threads = {FETCH_JOIN_THREADS}")
        try:
            found = self._conn.execute(
                f"select stored.{key}, cast(stored.record as varchar) from {table} as stored "
                f"semi join wanted on stored.{key} = wanted.{key}"
            ).fetchall()
        finally:
            self._conn.execute(f"set threads = {STORE_THREADS}")
        return dict(found)

    def _json_marked(self, table: str, rows: pa.Table) -> pa.Table:
        """`rows` with text columns bound for JSON columns typed as Arrow JSON.

        DuckDB then stores the (already validated) text as is instead of
        parsing every record once more to cast it.
        """
        json_columns = {name for name, type_ in self._column_types(table) if type_ == "JSON"}
        for position, name in enumerate(rows.column_names):
            column = rows.column(position)
            if name in json_columns and column.type in (pa.string(), pa.large_string()):
                json_type = pa.json_(column.type)
                marked = pa.chunked_array(
                    [pa.ExtensionArray.from_storage(json_type, c) for c in column.chunks], json_type
                )
                rows = rows.set_column(position, name, marked)
        return rows

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One DuckDB transaction. A bulk insert inside one writes each full row
        group straight to the database file at once ("optimistic writes"),
        instead of to the WAL first and the file again at the checkpoint."""
        self._conn.execute("begin transaction")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._conn.execute("rollback")
            raise
        finally:
            self._in_transaction = False
            self._uncommitted = 0
        self._conn.execute("commit")

    def load_temp_table(self, name: str, like: str, rows: pa.Table) -> None:
        """A temp view over `rows`, typed like `like`: DuckDB scans the Arrow data in place.

        Copying the rows into a table first cost as much as the append itself.
        """
        source = f"{name}__arrow"
        self._conn.register(source, rows)
        present = set(rows.column_names)
        select = ", ".join(
            f"cast({column if column in present else 'null'} as {type_}) as {column}"
            for column, type_ in self._column_types(like)
        )
        self._conn.execute(f"create or replace temp view {name} as select {select} from {source}")

    def _column_types(self, table: str) -> list[tuple[str, str]]:
        if table not in self._columns:
            schema, _, name = table.rpartition(".")
            self._columns[table] = self._conn.execute(
                "select column_name, data_type from duckdb_columns() "
                "where schema_name = coalesce(nullif(?, ''), current_schema()) "
                "and table_name = ? and database_name = current_database() order by column_index",
                [schema, name],
            ).fetchall()
        return self._columns[table]

    def close(self) -> None:
        self._conn.close()


def connect_duckdb(database: str, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB database (":memory:" or a file) with a bounded memory budget.

    A file is attached (and made the default catalog) so this session writes
    row groups of ROW_GROUP_ROWS rows: an append transaction then writes each
    one straight to the file once it is full, instead of keeping up to
    DuckDB's default 122,880 rows (300 MB of requests) for the WAL and the
    checkpoint to write twice. The size applies to this session's writes
    only; the file stays an ordinary DuckDB database.
    """
    try:
        conn = duckdb.connect(":memory:")
        if database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            quoted = "'" + database.replace("'", "''") + "'"  # ATTACH takes no parameters
            conn.execute(
                f"attach {quoted} as {ATTACHED_AS} "
                f"(row_group_size {ROW_GROUP_ROWS}, storage_version '{STORAGE_VERSION}')"
            )
            conn.execute(f"use {ATTACHED_AS}")
            # where DuckDB spills by default for a database file
            conn.execute("set temp_directory = ?", [f"{database}.tmp"])
    except duckdb.IOException as exc:
        raise TrellisError(_describe_open_error(database, exc)) from exc
    except (duckdb.Error, OSError) as exc:
        raise TrellisError(f"cannot open DuckDB database {database}: {_first_line(exc)}") from exc
    limit = memory_limit or os.environ.get("TRELLIS_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
    conn.execute("set memory_limit = ?", [limit])
    conn.execute("set timezone = 'UTC'")
    return conn


def _describe_open_error(database: str, exc: Exception) -> str:
    message = _first_line(exc)
    if "lock" in message.lower():
        pid = re.search(r"PID (\d+)", str(exc))
        holder = f" (PID {pid.group(1)})" if pid else ""
        return f"DuckDB file {database} is locked by another process{holder}; close it and retry"
    return f"cannot open DuckDB database {database}: {message}"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_duckdb_store() -> DuckDBStore:
    return DuckDBStore(duckdb_settings().path)
