"""Where frozen snapshots live: Parquet files and an Iceberg catalog (pyiceberg).

The catalog is a SQL catalog: a SQLite file next to the frozen files by
default, or the PostgreSQL database trellis uses (``--catalog postgres``,
libpq's PG* settings), so several people see one list of tables. DuckDB reads
the same tables through its iceberg extension, loaded from the PyPI wheels
(duckdb-extension-iceberg and the avro extension it needs, through
trellis.storage.wheel_extensions): nothing is downloaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import duckdb
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog

from trellis.config import duckdb_settings, postgres_settings
from trellis.errors import TrellisError
from trellis.storage.wheel_extensions import load_wheel_extensions

CatalogKind = Literal["sqlite", "postgres"]
CATALOG_KINDS: tuple[CatalogKind, ...] = ("sqlite", "postgres")

#: The Iceberg namespace of frozen datasets.
NAMESPACE = "datasets"


def frozen_dir() -> Path:
    """TRELLIS_FROZEN_DIR, else `frozen/` beside the DuckDB warehouse file."""
    configured = os.environ.get("TRELLIS_FROZEN_DIR")
    if configured:
        return Path(configured).resolve()
    return duckdb_settings().path.resolve().parent / "frozen"


def catalog_kind(value: str | None) -> CatalogKind:
    chosen = value or os.environ.get("TRELLIS_ICEBERG_CATALOG", "sqlite")
    if chosen not in CATALOG_KINDS:
        raise TrellisError(f"unknown catalog {chosen!r}: choose sqlite or postgres")
    return chosen  # type: ignore[return-value]


def open_catalog(kind: CatalogKind) -> Catalog:
    root = frozen_dir()
    root.mkdir(parents=True, exist_ok=True)
    if kind == "sqlite":
        uri = f"sqlite:///{root / 'catalog.db'}"
    else:
        pg = postgres_settings()
        auth = quote(pg.user, safe="") + (f":{quote(pg.password, safe='')}" if pg.password else "")
        uri = f"postgresql+psycopg://{auth}@{pg.host}:{pg.port}/{quote(pg.dbname, safe='')}"
    try:
        catalog = SqlCatalog("trellis", uri=uri, warehouse=(root / "iceberg").as_uri())
        catalog.create_namespace_if_not_exists(NAMESPACE)
    except Exception as exc:  # SQLAlchemy raises many kinds; the user needs one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TrellisError(f"cannot open the {kind} Iceberg catalog: {first}") from exc
    return catalog


def load_duckdb_iceberg(con: duckdb.DuckDBPyConnection) -> None:
    """Install the iceberg extension (and avro, which it needs) from their wheels, and load it."""
    load_wheel_extensions(con, ["avro", "iceberg"])
