"""The one storage interface the services code against.

A Store is a connection to one target (DuckDB file or PostgreSQL database)
whose raw schema exists. SQL handed to `query`/`execute` uses `?`
placeholders on both targets (the PostgreSQL store translates them), so one
statement serves both; values always travel as parameters.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
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
    def close(self) -> None:
        """Release the connection."""
