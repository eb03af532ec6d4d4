"""One meaning of `record_hash` for every stored row: the content fingerprint of
trellis.ingest.validate (HASH_VERSION).

Warehouses written before it hold other hashes (of the line's text, or of
an older fingerprint), which would make every resent record look like a
conflict. `ensure_current_hashes` runs when an ingest opens the warehouse:
if the version noted in raw.ingest_meta is not the current one, it computes
the fingerprint of every stored record again (`rehash`), then notes the
version. `trellis rehash` runs the same by hand.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from trellis.config import RAW_SCHEMA
from trellis.ingest import contract as c
from trellis.ingest.validate import HASH_VERSION, Rejected, fingerprint, parse
from trellis.storage import Store

__all__ = ["ensure_current_hashes", "rehash"]

#: Stored rows re-fingerprinted per statement.
PAGE_ROWS = 10_000
_META = f"{RAW_SCHEMA}.ingest_meta"
_VERSION_KEY = "record_hash"
_UTC_MICROS = pa.timestamp("us", tz="UTC")


def ensure_current_hashes(store: Store) -> int:
    """Bring stored record hashes to HASH_VERSION if they are older; the rows changed."""
    found = store.query(f"select value from {_META} where name = ?", [_VERSION_KEY])
    if found and found[0][0] == HASH_VERSION:
        return 0
    return rehash(store)


def rehash(store: Store) -> int:
    """Fingerprint every stored record again; returns how many hashes changed."""
    changed = 0
    with store.transaction():
        store.lock_table(_META)
        for spec in c.KIND_SPECS.values():
            changed += _rehash_table(store, spec)
        store.execute(f"delete from {_META} where name = ?", [_VERSION_KEY])
        store.execute(
            f"insert into {_META} (name, value) values (?, ?)", [_VERSION_KEY, HASH_VERSION]
        )
    return changed


def _rehash_table(store: Store, spec: c.KindSpec) -> int:
    table = f"{RAW_SCHEMA}.{spec.table}"
    keys = spec.key_columns
    columns = spec.columns
    listed = ", ".join(
        "cast(record as varchar) as record" if name == "record" else name for name in columns
    )
    # pages follow the whole key (a request id repeats across tenants)
    ordered = ", ".join(keys)
    after_key = f"({ordered}) > ({', '.join('?' * len(keys))})"
    same_key = " and ".join(f"{table}.{name} = trellis_rehash.{name}" for name in keys)
    changed, after = 0, [""] * len(keys)
    while True:
        page = store.query(
            f"select {listed} from {table} where {after_key} order by {ordered} limit {PAGE_ROWS}",
            after,
        )
        if not page:
            return changed
        rows = [dict(zip(columns, row, strict=True)) for row in page]
        after = [rows[-1][name] for name in keys]
        stale = [row for row in rows if _set_hash(row)]
        if stale:
            changed += len(stale)
            stage = pa.Table.from_pylist(stale, schema=_schema(columns))
            store.load_temp_table("trellis_rehash", table, stage)
            store.execute(
                f"update {table} set record_hash = trellis_rehash.record_hash "
                f"from trellis_rehash where {same_key}"
            )


def _set_hash(row: dict[str, Any]) -> bool:
    """Give `row` its record's current fingerprint; whether it differed."""
    try:
        value = parse(row["record"].encode("utf-8", "surrogatepass"))
    except Rejected:
        return False  # kept as stored: nothing can be compared with it anyway
    new = fingerprint(value)
    if new == row["record_hash"]:
        return False
    row["record_hash"] = new
    return True


def _schema(columns: list[str]) -> pa.Schema:
    types = {"created_at": _UTC_MICROS, "ingested_at": _UTC_MICROS, "source_line": pa.int64()}
    return pa.schema([(name, types.get(name, pa.string())) for name in columns])
