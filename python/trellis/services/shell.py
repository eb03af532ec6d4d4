"""Ad-hoc SQL on the warehouse (`trellis sql`), with no client to install.

DuckDB is opened read-only, so a query cannot change the warehouse and can
run next to a BI tool; PostgreSQL uses the same PG* settings as dbt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trellis.config import TargetName, duckdb_settings, postgres_settings
from trellis.errors import TrellisError


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def run_sql(target: TargetName, sql: str, limit: int = 1000) -> Result:
    """The statement's columns and up to `limit` rows; a TrellisError for a failed one."""
    if target == "duckdb":
        import duckdb

        path = duckdb_settings().path
        if not path.exists():
            raise TrellisError(f"no warehouse at {path}: run `make demo` or `trellis ingest` first")
        try:
            with duckdb.connect(str(path), read_only=True) as duck:
                cursor = duck.execute(sql)
                columns = [d[0] for d in cursor.description or []]
                return Result(columns, cursor.fetchmany(limit) if columns else [])
        except duckdb.Error as exc:
            raise TrellisError(" ".join(str(exc).split())) from None
    import psycopg

    try:
        with psycopg.connect(postgres_settings().conninfo()) as pg, pg.cursor() as cur:
            # A statement typed by the user is the query itself, not a template of values.
            cur.execute(sql.encode())
            columns = [d.name for d in cur.description or []]
            return Result(columns, cur.fetchmany(limit) if columns else [])
    except psycopg.Error as exc:
        raise TrellisError(" ".join(str(exc).split())) from None
