"""Reading a frozen snapshot back: pyiceberg or DuckDB's iceberg extension, by snapshot id.

Both read the Iceberg table's metadata as of the snapshot (time travel), so
a snapshot stays readable after later freezes replaced the table's rows.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
from pyiceberg.table import StaticTable

from trellis.datasets.freeze import Snapshot
from trellis.datasets.iceberg import load_duckdb_iceberg


def with_pyiceberg(snapshot: Snapshot) -> pa.Table:
    table = StaticTable.from_metadata(snapshot.iceberg_metadata_location)
    return table.scan(snapshot_id=snapshot.iceberg_snapshot_id).to_arrow()


def with_duckdb(snapshot: Snapshot, con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
    own = con is None
    connection = con or duckdb.connect(config={"autoinstall_known_extensions": False})
    try:
        load_duckdb_iceberg(connection)
        return connection.execute(
            "select * from iceberg_scan(?, snapshot_from_id => ?)",
            [snapshot.iceberg_metadata_location, snapshot.iceberg_snapshot_id],
        ).to_arrow_table()
    finally:
        if own:
            connection.close()
