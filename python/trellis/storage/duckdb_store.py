"""The DuckDB target: one database file, opened for the duration of a command."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
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
#: It holds the rows committed since the last checkpoint (see below).
DEFAULT_MEMORY_LIMIT = "192MB"
#: WAL size that triggers a checkpoint. Each checkpoint rewrites the table's
#: last, partly filled row group (122,880 rows: some 300 MB of 2.5 KB
#: requests), so DuckDB's 16 MB default wrote every row some ten times during
#: a bulk ingest; at 96 MB about three times. Larger measured little faster
#: for a lot more memory (these rows must fit under the memory limit).
CHECKPOINT_THRESHOLD = "96MB"


class DuckDBStore(Store):
    target: TargetName = "duckdb"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = connect_duckdb(str(path))
        self._conn.execute("set checkpoint_threshold = ?", [CHECKPOINT_THRESHOLD])
        self._columns: dict[str, list[tuple[str, str]]] = {}
        for statement in raw_ddl("duckdb"):
            self._conn.execute(statement)

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self._conn.execute(sql, params)

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
    """Open a DuckDB database (":memory:" or a file) with a bounded memory budget."""
    try:
        if database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        conn = duckdb.connect(database)
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
