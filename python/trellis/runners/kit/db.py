"""The slice of trellis.storage.Store the runners use.

Kept as a Protocol so the runners depend on behaviour, not on a backend: both
the DuckDB and the PostgreSQL store satisfy it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

import pyarrow as pa


class Db(Protocol):
    @property
    def target(self) -> str: ...

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]: ...

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None: ...

    def load_temp_table(self, name: str, like: str, rows: pa.Table) -> None: ...


def placeholders(count: int) -> str:
    """`?, ?, ...` for an IN list or a VALUES row (the values stay parameters)."""
    return ", ".join(["?"] * count)


def as_json(value: Any) -> Any:
    """A JSON column as Python: DuckDB returns text, PostgreSQL jsonb a dict."""
    if isinstance(value, str | bytes):
        return json.loads(value)
    return value


def table_exists(db: Db, schema: str, table: str) -> bool:
    rows = db.query(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    )
    return bool(rows[0][0])
