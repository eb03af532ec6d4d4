"""Bring the raw tables of a warehouse created by an older trellis to today's keys.

`create table if not exists` (storage/schema.py) leaves an existing table as
it was, so a key that changed in macros/raw_tables_ddl.sql reaches older
warehouses here, when trellis opens one (`open_store`). The catalog says
which key a table has, so nothing needs noting: a warehouse already on the
current key costs one small query.

Keys changed so far: raw.requests was keyed by request_id alone, which made
one tenant's record a `conflict` of another tenant's that used the same id;
it is keyed by (request_id, tenant_id) now.
"""

from __future__ import annotations

from trellis.config import RAW_SCHEMA
from trellis.storage.base import Store

__all__ = ["PRIMARY_KEYS", "ensure_current_keys", "primary_key"]

#: The primary key of each raw table whose key changed, as raw_tables_ddl.sql declares it.
PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    f"{RAW_SCHEMA}.requests": ("request_id", "tenant_id"),
}

# information_schema reads the same on DuckDB and PostgreSQL.
_KEY_COLUMNS = """
    select usage.column_name
    from information_schema.table_constraints as constraints
    inner join information_schema.key_column_usage as usage
        on constraints.constraint_catalog = usage.constraint_catalog
        and constraints.constraint_schema = usage.constraint_schema
        and constraints.constraint_name = usage.constraint_name
    where constraints.table_catalog = current_database()
        and constraints.table_schema = ? and constraints.table_name = ?
        and constraints.constraint_type = 'PRIMARY KEY'
    order by usage.ordinal_position
"""


def primary_key(store: Store, table: str) -> tuple[str, ...]:
    """The columns of `table`'s primary key, in order (empty without one)."""
    schema, _, name = table.rpartition(".")
    return tuple(str(column) for (column,) in store.query(_KEY_COLUMNS, [schema, name]))


def ensure_current_keys(store: Store) -> list[str]:
    """Give every raw table its current primary key; the tables that changed.

    Two sessions opening an old warehouse at once take turns (`lock_table`),
    and the second finds the key current.
    """
    changed = []
    for table, key in PRIMARY_KEYS.items():
        if primary_key(store, table) == key:
            continue
        with store.transaction():
            store.lock_table(table)
            if primary_key(store, table) != key:
                store.replace_primary_key(table, key)
                changed.append(table)
    return changed
