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

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement and return all its rows."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run one statement for its effect."""

    @abstractmethod
    def load_temp_table(self, name: str, like: str, rows: pa.Table) -> None:
        """Replace session-temporary table or view `name` (the columns of table `like`) by `rows`.

        The bulk path: appends are staged here, then moved with plain SQL
        (`insert ... select ... where not exists`) that is the same on both
        targets. `name` and `like` are identifiers chosen by code, never input.
        Columns of `rows` are matched to the table's columns by name.
        """

    @abstractmethod
    def insert_new(self, table: str, key: str, rows: pa.Table) -> int:
        """Insert the rows whose `key` is not in `table` yet; return how many were inserted.

        The bulk append of ingest: columns of `rows` are named as the table's
        (the statement is `insert_new_sql`), JSON columns hold validated JSON
        text, and `key` is unique within `rows`.
        """

    @abstractmethod
    def stored_twins(
        self, table: str, key: str, rows: pa.Table
    ) -> tuple[int, list[tuple[Any, ...]]]:
        """The rows of `rows` whose `key` is already stored, compared by `record_hash`.

        Returns (how many keys are stored, [(source_line, key, stored record
        as text) for each stored with another hash]); `stored_twins_sql`.
        """

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """A transaction around a batch of statements: all of them land, or none."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""


def insert_new_sql(
    table: str, columns: Sequence[str], source: str, skip_stored: bool = True
) -> str:
    """The append both stores run; the primary key skips rows already stored.

    `skip_stored=False` is for a source known to hold no stored key: any
    clash then fails the statement instead of being skipped.
    """
    listed = ", ".join(columns)
    skip = " on conflict do nothing" if skip_stored else ""
    return f"insert into {table} ({listed}) select {listed} from {source}{skip}"


def stored_twins_sql(table: str, key: str, source: str) -> tuple[str, str]:
    """(count of stored keys with their same-hash count, listing of the different ones).

    The count reads ids and hashes only; stored records are read back for
    hash mismatches alone.
    """
    count = f"""
        select count(*), count(case when stored.record_hash = staged.record_hash then 1 end)
        from {source} as staged
        inner join {table} as stored on stored.{key} = staged.{key}
    """
    listing = f"""
        select staged.source_line, staged.{key}, cast(stored.record as varchar)
        from {source} as staged
        inner join {table} as stored
            on stored.{key} = staged.{key} and stored.record_hash <> staged.record_hash
    """
    return count, listing
