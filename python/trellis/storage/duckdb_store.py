"""The DuckDB target: one database file, opened for the duration of a command."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from trellis.config import TargetName, duckdb_settings
from trellis.errors import TrellisError
from trellis.storage.base import Store
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
#: lookups; ingest's Python work runs beside them.
STORE_THREADS = 1
#: WAL size that triggers a checkpoint (DuckDB's default: 16 MB). Ingest
#: writes whole row groups straight to the file (see `transaction`); what
#: still goes through the WAL (a transaction's last, partial row group) is
#: checkpointed less often.
CHECKPOINT_THRESHOLD = "96MB"
#: Rows per row group this session writes (see connect_duckdb): 40 MB of
#: 2.5 KB requests. Halved the CPU of a 100k-request append (measured).
ROW_GROUP_ROWS = 16_384
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
    json_type = "json"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = connect_duckdb(str(path))
        self._conn.execute("set checkpoint_threshold = ?", [CHECKPOINT_THRESHOLD])
        self._conn.execute(f"set write_buffer_row_group_count = {WRITE_BUFFER_ROW_GROUPS}")
        self._conn.execute(f"set threads = {STORE_THREADS}")
        self._columns: dict[str, list[tuple[str, str]]] = {}
        for statement in raw_ddl("duckdb"):
            self._conn.execute(statement)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self._conn.execute(sql, params)

    def execute_counted(self, sql: str, params: Sequence[Any] | None = None) -> int:
        return int(self._conn.execute(sql, params).fetchall()[0][0])

    def lock_table(self, table: str) -> None:
        """Nothing: a DuckDB file has one writing process at a time."""

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One DuckDB transaction. A bulk insert inside one writes each full row
        group straight to the database file at once ("optimistic writes"),
        instead of to the WAL first and the file again at the checkpoint."""
        self._conn.execute("begin transaction")
        try:
            yield
        except BaseException:
            self._conn.execute("rollback")
            raise
        self._conn.execute("commit")

    def load_temp_table(self, name: str, like: str, rows: pa.Table) -> None:
        """A temp view over `rows`, typed like `like`: DuckDB scans the Arrow data in place.

        Copying the rows into a table first cost as much as the append itself.
        """
        source = f"{name}__arrow"
        self._conn.register(source, _json_marked(rows, self._column_types(like)))
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

    def replace_primary_key(self, table: str, columns: Sequence[str]) -> None:
        """Rebuild `table` under its current DDL (which declares `columns` as its key):
        DuckDB cannot alter a primary key. Create, copy, drop, rename in one
        transaction; a DuckDB file has no grants or policies to carry over, and
        its views name the table and bind again on their next read."""
        schema, _, name = table.rpartition(".")
        rebuilt = f"{name}__rekeyed"
        created = f"create table if not exists {table} ("
        ddl = next(statement for statement in raw_ddl("duckdb") if statement.startswith(created))
        if f"primary key ({', '.join(columns)})" not in ddl:
            raise TrellisError(f"the DDL of {table} does not declare the key {columns}")
        listed = ", ".join(name for name, _ in self._column_types(table))
        self._conn.execute(ddl.replace(created, f"create table {schema}.{rebuilt} (", 1))
        self._conn.execute(
            f"insert into {schema}.{rebuilt} ({listed}) select {listed} from {table}"
        )
        self._conn.execute(f"drop table {table}")
        self._conn.execute(f"alter table {schema}.{rebuilt} rename to {name}")

    def close(self) -> None:
        self._conn.close()


def _json_marked(rows: pa.Table, columns: list[tuple[str, str]]) -> pa.Table:
    """`rows` with text bound for JSON columns typed as Arrow JSON: DuckDB then stores
    the (already validated) text as is instead of parsing every record again."""
    json_columns = {name for name, type_ in columns if type_ == "JSON"}
    for position, name in enumerate(rows.column_names):
        column = rows.column(position)
        if name in json_columns and column.type in (pa.string(), pa.large_string()):
            json_type = pa.json_(column.type)
            marked = pa.chunked_array(
                [pa.ExtensionArray.from_storage(json_type, c) for c in column.chunks], json_type
            )
            rows = rows.set_column(position, name, marked)
    return rows


def connect_duckdb(database: str, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB database (":memory:" or a file) with a bounded memory budget.

    A file is attached (and made the default catalog) so this session writes
    row groups of ROW_GROUP_ROWS rows: an append transaction then writes each
    one straight to the file once it is full, instead of keeping up to
    DuckDB's default 122,880 rows (300 MB of requests) for the WAL and the
    checkpoint to write twice. The size applies to this session's writes
    only; the file stays an ordinary DuckDB database.
    """
    # The budget is set before the file is attached: attaching replays the
    # file's write-ahead log, which a large `dbt run` can leave behind.
    limit = memory_limit or os.environ.get("TRELLIS_DUCKDB_MEMORY_LIMIT", DEFAULT_MEMORY_LIMIT)
    try:
        conn = duckdb.connect(":memory:", config={"memory_limit": limit})
        conn.execute("set timezone = 'UTC'")
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
