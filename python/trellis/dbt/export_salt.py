"""dbt-duckdb plugin: hands the export salt to every DuckDB connection dbt opens.

dbt refuses `DBT_ENV_SECRET_*` variables anywhere but profiles.yml, and any
value rendered into a model's SQL is written in clear to target/ (compiled and
run SQL, manifest.json). So the salt never passes through Jinja: this plugin,
loaded by the duckdb output of profiles.yml, reads the variable itself and sets
it as a DuckDB session variable, which `trellis.export_salt()` reads with
`getvariable`. The PostgreSQL output does the same with a session setting.
"""

from __future__ import annotations

import os

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

SALT_ENV = "DBT_ENV_SECRET_TRELLIS_EXPORT_SALT"
SALT_VARIABLE = "trellis_export_salt"


class Plugin(BasePlugin):
    """Sets the salt on each cursor: dbt-duckdb runs models on cursors, and a
    DuckDB variable belongs to one connection, so the parent's is not seen."""

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        _set_salt(conn)

    def configure_cursor(self, cursor: DuckDBPyConnection) -> None:
        _set_salt(cursor)


def _set_salt(conn: DuckDBPyConnection) -> None:
    conn.execute(f"set variable {SALT_VARIABLE} = ?", [os.environ.get(SALT_ENV, "")])
