"""The PostgreSQL target, through psycopg 3 (autocommit; bulk loads by COPY)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql

from trellis.config import PostgresSettings, TargetName, postgres_settings
from trellis.errors import TrellisError
from trellis.storage.base import Store
from trellis.storage.schema import raw_ddl

CONNECT_TIMEOUT_SECONDS = 5


class PostgresStore(Store):
    target: TargetName = "postgres"
    json_type = "jsonb"

    def __init__(self, settings: PostgresSettings) -> None:
        self.settings = settings
        try:
            self._conn = psycopg.connect(
                settings.conninfo(), autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
        except psycopg.Error as exc:
            where = f"{settings.host}:{settings.port}/{settings.dbname}"
            raise TrellisError(
                f"cannot connect to PostgreSQL at {where}: {_first_line(exc)}"
            ) from exc
        # two sessions creating one table at once collide in the catalog: take turns
        with self._connection_errors(), self._conn.transaction():
            self._conn.execute("select pg_advisory_xact_lock(hashtext('trellis raw ddl'))")
            for statement in raw_ddl("postgres"):
                self._conn.execute(statement)  # DDL from code constants

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        with self._connection_errors(), self._conn.cursor() as cur:
            cur.execute(*_to_psycopg(sql, params))
            return cur.fetchall() if cur.description else []

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.execute_counted(sql, params)

    def execute_counted(self, sql: str, params: Sequence[Any] | None = None) -> int:
        with self._connection_errors(), self._conn.cursor() as cur:
            cur.execute(*_to_psycopg(sql, params))
            return max(cur.rowcount, 0)

    def lock_table(self, table: str) -> None:
        """A transaction-scoped advisory lock named after the table: concurrent ingests
        take turns per batch instead of deadlocking on each other's new keys."""
        self.execute("select pg_advisory_xact_lock(hashtext(?))", [table])

    @contextlib.contextmanager
    def _connection_errors(self) -> Iterator[None]:
        """A dropped connection is the user's to fix: one line, not a traceback."""
        try:
            yield
        except psycopg.DataError as exc:
            raise TrellisError(f"PostgreSQL rejected a value: {_first_line(exc)}") from exc
        except psycopg.OperationalError as exc:
            if not self._conn.closed:
                raise
            where = f"{self.settings.host}:{self.settings.port}/{self.settings.dbname}"
            raise TrellisError(
                f"lost the PostgreSQL connection to {where}: {_first_line(exc)}"
            ) from exc

    def load_temp_table(self, name: str, like: str, rows: pa.Table) -> None:
        with self._connection_errors():
            self._load_temp_table(name, like, rows)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._connection_errors(), self._conn.transaction():
            yield

    def _load_temp_table(self, name: str, like: str, rows: pa.Table) -> None:
        self._conn.execute(f"create temp table if not exists {name} (like {like})")
        self._conn.execute(f"truncate {name}")
        if rows.num_rows == 0:
            return
        buffer = io.BytesIO()
        pa_csv.write_csv(rows, buffer, pa_csv.WriteOptions(include_header=False))
        columns = ", ".join(rows.column_names)
        with (
            self._conn.cursor() as cur,
            cur.copy(f"copy {name} ({columns}) from stdin (format csv)") as copy,
        ):
            copy.write(buffer.getbuffer())

    def replace_primary_key(self, table: str, columns: Sequence[str]) -> None:
        """Swap the key constraint in place: the table keeps its rows, the views dbt
        built on it, its row-level security policy and its grants."""
        schema, _, name = table.rpartition(".")
        found = self.query(
            "select constraint_name from information_schema.table_constraints "
            "where table_schema = ? and table_name = ? and constraint_type = 'PRIMARY KEY'",
            [schema, name],
        )
        drop = [
            sql.SQL("drop constraint {}").format(sql.Identifier(constraint))
            for (constraint,) in found
        ]
        add = sql.SQL("add primary key ({})").format(
            sql.SQL(", ").join(sql.Identifier(column) for column in columns)
        )
        statement = sql.SQL("alter table {} {}").format(
            sql.Identifier(schema, name), sql.SQL(", ").join([*drop, add])
        )
        with self._connection_errors():
            self._conn.execute(statement)

    def close(self) -> None:
        self._conn.close()


def _to_psycopg(sql: str, params: Sequence[Any] | None) -> tuple[Any, Any]:
    """Translate `?` placeholders (outside quotes) to psycopg's `%s`."""
    if params is None:
        return sql, None
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if quote:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append("%%" if char == "%" else char)
    return "".join(out), list(params)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_postgres_store() -> PostgresStore:
    return PostgresStore(postgres_settings())
