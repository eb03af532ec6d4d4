"""DuckDB extensions loaded from their PyPI wheels, never downloaded.

The wheels `duckdb-extension-<name>` (postgres_scanner, vss, ...) ship the
extension file built for one DuckDB release inside their package folder.
`INSTALL '<file>'` copies it into DuckDB's extension directory and `LOAD`
loads it: no network. `Plugin` runs this on every connection dbt-duckdb
opens (profiles.yml `plugins:`), before the profile's `attach:` needs it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin

from trellis.errors import TrellisError


def extension_file(name: str) -> Path:
    """The extension file shipped in the wheel duckdb-extension-<name> for this DuckDB."""
    package = f"duckdb_extension_{name}"
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise TrellisError(
            f"DuckDB extension {name}: install the wheel "
            f"duckdb-extension-{name}=={duckdb.__version__}"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    path = folder / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.is_file():
        found = sorted(p.parent.name for p in folder.glob("extensions/*/*.duckdb_extension"))
        raise TrellisError(
            f"DuckDB extension {name}: the installed wheel has builds for {found or 'nothing'}, "
            f"DuckDB is {duckdb.__version__}; install duckdb-extension-{name}=={duckdb.__version__}"
        )
    return path


def load_wheel_extensions(con: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    """Install each extension from its wheel's file (if not installed yet) and load it."""
    installed = {
        row[0]
        for row in con.execute(
            "select extension_name from duckdb_extensions() where installed"
        ).fetchall()
    }
    for name in names:
        if name not in installed:
            con.execute(f"install '{extension_file(name)}'")
        con.execute(f"load {name}")


class Plugin(BasePlugin):
    """dbt-duckdb plugin: `plugins: [{module: trellis.storage.wheel_extensions,
    config: {extensions: [postgres_scanner, vss]}}]`."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        self.extensions = [str(item) for item in plugin_config.get("extensions", [])]

    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        load_wheel_extensions(conn, self.extensions)
