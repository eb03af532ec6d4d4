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

#: Keys per lookup in records_by_key: within DuckDB's default limit for
#: answering an IN list from the index (index_scan_max_count, 2048).
KEY_BATCH = 1000


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
    def insert_new(self, table: str, key: str, rows: pa.Table) -> list[Any]:
        """Insert the rows whose `key` is not in `table` yet; return the keys that were.

        The bulk append of ingest: columns of `rows` are named as the table's
        (the statement is `insert_new_sql`), JSON columns hold validated JSON
        text, and `key` is unique within `rows`. The rows of the returned keys
        were not inserted: `stored_twins` tells which of them differ.
        """

    @abstractmethod
    def prepare_append(self, table: str) -> None:
        """Pay the one-time costs of appending to `table` now: ingest calls it while its
        first rows are still being read and checked."""

    @abstractmethod
    def stored_twins(self, table: str, key: str, rows: pa.Table) -> list[tuple[Any, ...]]:
        """The rows of `rows` (whose keys are stored) stored with another `record_hash`.

        Returns (source_line, key, stored record_hash) for each of them
        (`stored_twins_sql`, `twins_by_lookup`): keys and hashes only, never
        the records. Rows may come from several chunks of one source: a key
        may repeat, a source_line may not.
        """

    def records_by_key(self, table: str, key: str, keys: Sequence[str]) -> dict[str, str]:
        """The stored records (as JSON text) of `keys`, looked up by primary key in batches."""
        return self._column_by_key(table, key, "cast(record as varchar)", keys)

    def _column_by_key(
        self, table: str, key: str, column_sql: str, keys: Sequence[str]
    ) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for start in range(0, len(keys), KEY_BATCH):
            batch = list(keys[start : start + KEY_BATCH])
            marks = ", ".join("?" * len(batch))
            found.update(
                self.query(
                    f"select {key}, {column_sql} from {table} where {key} in ({marks})", batch
                )
            )
        return found

    def twins_by_lookup(self, table: str, key: str, rows: pa.Table) -> list[tuple[Any, ...]]:
        """stored_twins for a few rows: their stored hashes looked up by key."""
        keys = rows.column(key).to_pylist()
        stored = self._column_by_key(table, key, "record_hash", list(dict.fromkeys(keys)))
        return [
            (line, record_key, stored.get(record_key))
            for record_key, line, record_hash in zip(
                keys,
                rows.column("source_line").to_pylist(),
                rows.column("record_hash").to_pylist(),
                strict=True,
            )
            if stored.get(record_key) != record_hash
        ]

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


def stored_twins_sql(table: str, key: str, source: str) -> str:
    """The (source_line, key, stored hash) of staged rows whose key is stored with another hash.

    It reads keys and hashes only: a join that carried the stored records
    would read every stored record; those ingest still needs are fetched by
    key afterwards (`Store.records_by_key`).
    """
    return f"""
        select staged.source_line, staged.{key}, stored.record_hash
        from {source} as staged
        inner join {table} as stored
            on stored.{key} = staged.{key} and stored.record_hash <> staged.record_hash
    """
