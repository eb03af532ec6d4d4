"""The one storage interface the services code against.

A Store is a connection to one target (DuckDB file or PostgreSQL database)
whose raw schema exists. SQL handed to `query`/`execute` uses `?`
placeholders on both targets (the PostgreSQL store translates them), so one
statement serves both; values always travel as parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import pyarrow as pa

from trellis.config import TargetName


class Store(ABC):
    """A connection to one target; use it through `trellis.storage.open_store`."""

    target: TargetName
    #: The type of the raw tables' `record` column.
    json_type: str

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement and return all its rows."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run one statement for its effect."""

    @abstractmethod
    def execute_counted(self, sql: str, params: Sequence[Any] | None = None) -> int:
        """Run one insert, update or delete; the rows it wrote."""

    @abstractmethod
    def load_temp_table(self, name: str, like: str, rows: pa.Table) -> None:
        """Replace session-temporary relation `name` (the columns of table `like`) by `rows`.

        The bulk path: rows are staged here, then moved with plain SQL that is
        the same on both targets. `name` and `like` are identifiers chosen by
        code, never input. Columns of `rows` are matched to the table's by name.
        """

    @abstractmethod
    def lock_table(self, table: str) -> None:
        """Make other writers of `table` wait until this transaction ends (PostgreSQL:
        an advisory lock; a DuckDB file has one writer anyway)."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """A transaction around a batch of statements: all of them land, or none."""

    @abstractmethod
    def replace_primary_key(self, table: str, columns: Sequence[str]) -> None:
        """Make `columns` the primary key of raw table `table`, its rows, grants and
        policies kept, inside the caller's transaction (trellis.storage.upgrade)."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""


def append_new(
    store: Store, table: str, key: str | Sequence[str], rows: pa.Table, compare_hash: bool = True
) -> tuple[int, list[int]]:
    """Insert the rows of `rows` whose `key` (a column, or several) is not stored yet
    (keys unique within `rows`).

    Returns the number inserted and, when `compare_hash`, the source_line of
    the rows whose key is stored with another `record_hash`: the conflicts.
    The other rows of stored keys are duplicates. One set-based insert and
    one join, the same SQL on both targets; the caller holds the
    transaction, and `lock_table` keeps concurrent ingests from interleaving.
    """
    stage = "trellis_stage_" + table.replace(".", "_")
    keys = [key] if isinstance(key, str) else list(key)
    same_key = " and ".join(f"stored.{name} = staged.{name}" for name in keys)
    store.lock_table(table)
    store.load_temp_table(stage, table, rows)
    columns = ", ".join(rows.column_names)
    values = ", ".join(
        f"cast(staged.record as {store.json_type})" if name == "record" else f"staged.{name}"
        for name in rows.column_names
    )
    inserted = store.execute_counted(
        f"insert into {table} ({columns}) select {values} from {stage} as staged "
        f"where not exists (select 1 from {table} as stored where {same_key})"
    )
    conflicts: list[int] = []
    if compare_hash and inserted < rows.num_rows:
        found = store.query(
            f"select staged.source_line from {stage} as staged "
            f"inner join {table} as stored on {same_key} "
            "where stored.record_hash <> staged.record_hash"
        )
        conflicts = [int(line) for (line,) in found]
    return inserted, conflicts
