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


#: Files trellis creates (warehouse, generated data, exports, job logs) are private to
#: their owner unless TRELLIS_UMASK (octal, e.g. 022) says otherwise.
DEFAULT_UMASK = 0o077
UMASK_ENV = "TRELLIS_UMASK"


def _checked_target(value: str, where: str) -> TargetName:
    if value not in TARGETS:
        valid = ", ".join(TARGETS)
        raise TrellisError(f"unknown target {value!r} in {where}: choose one of {valid}")
    return value  # type: ignore[return-value]


def default_target() -> TargetName:
    """TRELLIS_TARGET, else duckdb; an unknown name is an error, never a silent fallback."""
    value = os.environ.get("TRELLIS_TARGET")
    if value is None or value == "":
        return "duckdb"
    return _checked_target(value, "TRELLIS_TARGET")


def resolve_target(value: str | None) -> TargetName:
    """A --target option's value, or the default target when it is not given."""
    if value is None:
        return default_target()
    return _checked_target(value, "--target")


def apply_umask() -> int:
    """Set the process umask from TRELLIS_UMASK (default 077: owner only); the mask set."""
    raw = os.environ.get(UMASK_ENV)
    if raw is None or raw == "":
        mask = DEFAULT_UMASK
    else:
        try:
            mask = int(raw, 8)
        except ValueError:
            mask = -1
        if not 0 <= mask <= 0o777:
            raise TrellisError(f"{UMASK_ENV}={raw!r} is not an octal umask such as 022 or 077")
    os.umask(mask)
    return mask


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
