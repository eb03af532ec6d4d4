"""Connection settings shared with dbt's profiles.yml.

`trellis` and `dbt` must meet in the same database, so both read the same
environment variables: TRELLIS_DUCKDB_PATH for DuckDB and libpq's PG* for
PostgreSQL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from trellis.errors import TrellisError

TargetName = Literal["duckdb", "postgres"]
TARGETS: tuple[TargetName, ...] = ("duckdb", "postgres")

#: The schema that holds raw facts on both targets (dbt var `trellis_raw_schema`).
RAW_SCHEMA = "raw"

#: The dbt project root (this file lives in python/trellis/).
PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DuckDBSettings:
    path: Path


@dataclass(frozen=True)
class PostgresSettings:
    host: str
    port: int
    user: str
    password: str
    dbname: str

    def conninfo(self) -> str:
        parts = {
            "host": self.host,
            "port": str(self.port),
            "user": self.user,
            "dbname": self.dbname,
        }
        if self.password:
            parts["password"] = self.password
        return " ".join(f"{k}={_quote(v)}" for k, v in parts.items())


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def default_target() -> TargetName:
    value = os.environ.get("TRELLIS_TARGET", "duckdb")
    return value if value in TARGETS else "duckdb"  # type: ignore[return-value]


def resolve_target(value: str | None) -> TargetName:
    """A --target option's value, or the default target when it is not given."""
    if value is None:
        return default_target()
    if value not in TARGETS:
        raise TrellisError(f"unknown target {value!r}: choose duckdb or postgres")
    return value  # type: ignore[return-value]


def duckdb_settings() -> DuckDBSettings:
    return DuckDBSettings(path=Path(os.environ.get("TRELLIS_DUCKDB_PATH", "warehouse.duckdb")))


def postgres_settings() -> PostgresSettings:
    port = os.environ.get("PGPORT", "5432")
    if not port.isdigit():
        raise TrellisError(f"PGPORT={port!r} is not a port number")
    return PostgresSettings(
        host=os.environ.get("PGHOST", "127.0.0.1"),
        port=int(port),
        user=os.environ.get("PGUSER", "postgres"),
        password=os.environ.get("PGPASSWORD", ""),
        dbname=os.environ.get("PGDATABASE", "trellis"),
    )
