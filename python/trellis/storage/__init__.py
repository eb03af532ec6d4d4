"""Storage: one interface (Store), a DuckDB and a PostgreSQL implementation.

with open_store("duckdb") as store:
    store.query("select count(*) from raw.requests where tenant_id = ?", ["acme"])
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from trellis.config import TargetName
from trellis.errors import TrellisError
from trellis.storage.base import Store
from trellis.storage.upgrade import ensure_current_keys

__all__ = ["Store", "open_store"]


@contextlib.contextmanager
def open_store(target: TargetName) -> Iterator[Store]:
    """Connect to `target` (settings from trellis.config) with the raw schema created,
    and its keys brought up to date (trellis.storage.upgrade)."""
    store: Store
    if target == "duckdb":
        from trellis.storage.duckdb_store import open_duckdb_store

        store = open_duckdb_store()
    elif target == "postgres":
        from trellis.storage.postgres_store import open_postgres_store

        store = open_postgres_store()
    else:
        raise TrellisError(f"unknown target {target!r}: choose duckdb or postgres")
    try:
        ensure_current_keys(store)
        yield store
    finally:
        store.close()
