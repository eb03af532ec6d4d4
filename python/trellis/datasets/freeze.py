"""`trellis freeze`: a dataset relation becomes an immutable, registered snapshot.

A freeze (1) fingerprints the relation's content (row count and the sums of
every row's hash: order-free, so the same rows give the same hash however
DuckDB scans them), (2) stops there when the latest snapshot of that name has
the same hash (freezing unchanged content is a no-op), else (3) writes the
rows once, with DuckDB's COPY, to a Parquet file that is then made read-only,
(4) commits that file to the dataset's Iceberg table as a new snapshot
(replacing the previous snapshot's rows; earlier snapshots stay readable by
snapshot id), and (5) appends a row to raw.dataset_snapshots, the registry.
The Parquet file is written once and referenced by Iceberg as it is
(``add_files``): no second copy.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.expressions import AlwaysTrue

from trellis.config import PROJECT_DIR, RAW_SCHEMA, duckdb_settings
from trellis.datasets.iceberg import NAMESPACE, CatalogKind, frozen_dir, open_catalog
from trellis.errors import TrellisError
from trellis.storage.duckdb_store import connect_duckdb
from trellis.storage.schema import raw_ddl

#: Where dataset models are built (models/datasets, +schema: datasets).
DATASETS_SCHEMA = "datasets"
FORMAT = "parquet+iceberg"

#: Progress callback: (stage, fraction done 0..1).
Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    dataset_name: str
    source_relation: str
    location: str
    iceberg_table: str
    iceberg_snapshot_id: int
    iceberg_metadata_location: str
    row_count: int
    bytes: int
    content_hash: str
    created_at: datetime
    parent_snapshot_id: str | None
    policy_version: str | None


@dataclass(frozen=True)
class FreezeResult:
    snapshot: Snapshot
    unchanged: bool


def open_warehouse() -> duckdb.DuckDBPyConnection:
    con = connect_duckdb(str(duckdb_settings().path))
    for statement in raw_ddl("duckdb"):
        con.execute(statement)
    return con


def freeze(
    dataset: str,
    name: str | None = None,
    catalog: CatalogKind = "sqlite",
    progress: Progress | None = None,
) -> FreezeResult:
    report = progress or (lambda stage, fraction: None)
    con = open_warehouse()
    try:
        relation, table = resolve_relation(con, dataset)
        dataset_name = name or table
        _check_name(dataset_name)
        report("fingerprint", 0.0)
        row_count, content_hash = fingerprint(con, relation)
        report("fingerprint", 1.0)
        latest = latest_snapshot(con, dataset_name)
        if latest is not None and latest.content_hash == content_hash:
            return FreezeResult(latest, unchanged=True)
        created_at = datetime.now(UTC)
        snapshot_id = f"{dataset_name}-{created_at:%Y%m%dT%H%M%S}-{content_hash[:8]}"
        folder = frozen_dir() / dataset_name / snapshot_id
        folder.mkdir(parents=True, exist_ok=False)
        data_file = folder / "part-00000.parquet"
        version = code_version()
        # Every frozen row names its snapshot and the code that made it (the
        # provenance the dataset could not know before the freeze).
        stamps = (
            f"{_literal(snapshot_id)} as frozen_snapshot_id,"
            f" {_literal(version)} as frozen_code_version"
        )
        with _watching(con, lambda f: report("write parquet", f)):
            con.execute(
                f"copy (select {_parquet_columns(con, relation)}, {stamps} from {relation}) "
                f"to '{_sql_path(data_file)}' (format parquet, compression zstd)"
            )
        report("write parquet", 1.0)
        data_file.chmod(0o444)
        report("iceberg commit", 0.0)
        table_name = f"{NAMESPACE}.{dataset_name}"
        iceberg_snapshot_id, metadata_location = _commit(catalog, table_name, data_file)
        report("iceberg commit", 1.0)
        snapshot = Snapshot(
            snapshot_id=snapshot_id,
            dataset_name=dataset_name,
            source_relation=relation,
            location=str(folder),
            iceberg_table=table_name,
            iceberg_snapshot_id=iceberg_snapshot_id,
            iceberg_metadata_location=metadata_location,
            row_count=row_count,
            bytes=data_file.stat().st_size,
            content_hash=content_hash,
            created_at=created_at,
            parent_snapshot_id=latest.snapshot_id if latest else None,
            policy_version=policy_version(con),
        )
        _register(con, snapshot, catalog, version)
        return FreezeResult(snapshot, unchanged=False)
    finally:
        con.close()


def resolve_relation(con: duckdb.DuckDBPyConnection, dataset: str) -> tuple[str, str]:
    """The quoted relation and the table's name, for `schema.table` or a table's name.

    A bare name is looked up in the datasets schema first, then in any schema.
    """
    schema, _, table = dataset.rpartition(".")
    rows = con.execute(
        "select table_schema, table_name from information_schema.tables"
        " where table_catalog = current_database() and table_name = ?"
        " and (? = '' or table_schema = ?)"
        " order by table_schema <> ?, table_schema",
        [table, schema, schema, DATASETS_SCHEMA],
    ).fetchall()
    if not rows:
        known = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables"
                " where table_catalog = current_database() and table_schema = ? order by 1",
                [DATASETS_SCHEMA],
            ).fetchall()
        ]
        hint = f"built datasets: {', '.join(known)}" if known else "no dataset is built yet"
        raise TrellisError(f"unknown dataset {dataset!r} ({hint}; dbt build -s tag:datasets)")
    schema_name, table_name = rows[0]
    return f'"{schema_name}"."{table_name}"', table_name


def fingerprint(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[int, str]:
    """Row count and a content hash that does not depend on row order."""
    columns = con.execute(f"describe {relation}").fetchall()
    # DuckDB's row hash, twice with different salts (128 bits a row), summed:
    # a tenth of md5's cost. It may change with DuckDB's version: unchanged
    # content then freezes once more after an upgrade, which is harmless.
    count, upper, lower = con.execute(
        "select count(*), coalesce(sum(hash(t)::hugeint), 0),"
        f" coalesce(sum(hash(t, 'trellis')::hugeint), 0) from {relation} t"
    ).fetchone() or (0, 0, 0)
    shape = json.dumps([[c[0], c[1]] for c in columns])
    digest = hashlib.sha256(f"{shape}|{count}|{upper}|{lower}".encode()).hexdigest()
    return int(count), digest


def latest_snapshot(con: duckdb.DuckDBPyConnection, dataset_name: str) -> Snapshot | None:
    rows = _snapshots(con, "dataset_name = ? order by created_at desc limit 1", [dataset_name])
    return rows[0] if rows else None


def find_snapshot(con: duckdb.DuckDBPyConnection, reference: str) -> Snapshot:
    """A snapshot by id, or the latest of a dataset name."""
    rows = _snapshots(con, "snapshot_id = ?", [reference]) or _snapshots(
        con, "dataset_name = ? order by created_at desc limit 1", [reference]
    )
    if not rows:
        raise TrellisError(
            f"unknown snapshot {reference!r}: give a snapshot id or a frozen dataset's name"
            " (trellis snapshots lists them)"
        )
    return rows[0]


def list_snapshots(con: duckdb.DuckDBPyConnection) -> list[Snapshot]:
    return _snapshots(con, "true order by dataset_name, created_at", [])


def _snapshots(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[Snapshot]:
    rows = con.execute(
        "select snapshot_id, dataset_name, source_relation, location, iceberg_table,"
        " iceberg_snapshot_id, iceberg_metadata_location, row_count, bytes, content_hash,"
        " created_at, parent_snapshot_id, policy_version"
        f" from {RAW_SCHEMA}.dataset_snapshots where {where}",
        params,
    ).fetchall()
    return [Snapshot(*row) for row in rows]


def policy_version(con: duckdb.DuckDBPyConnection) -> str | None:
    """The tenant policy versions in force, as JSON {tenant_id: policy_version}.

    Read from the SCD2 snapshot of tenant_data_policies (its current rows),
    else from the seed; None when neither is built.
    """
    for relation, where in (
        ("snapshots.tenant_data_policies_snapshot", "where dbt_valid_to is null"),
        ("config.tenant_data_policies", ""),
    ):
        schema, table = relation.split(".")
        exists = con.execute(
            "select count(*) from information_schema.tables"
            " where table_catalog = current_database() and table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()
        if exists and exists[0]:
            rows = con.execute(
                f"select tenant_id, policy_version from {relation} {where} order by tenant_id"
            ).fetchall()
            return json.dumps({str(t): str(v) for t, v in rows}, sort_keys=True)
    return None


def _check_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "_-" for c in name):
        raise TrellisError(f"invalid snapshot name {name!r}: use letters, digits, _ and -")


def _parquet_columns(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    """The select list: types Iceberg has no counterpart for become text or double."""
    parts = []
    for column, type_, *_ in con.execute(f"describe {relation}").fetchall():
        quoted = '"' + column.replace('"', '""') + '"'
        if type_ in {"JSON", "UUID"}:
            parts.append(f"cast({quoted} as varchar) as {quoted}")
        elif type_ in {"HUGEINT", "UHUGEINT"}:
            parts.append(f"cast({quoted} as double) as {quoted}")
        else:
            parts.append(quoted)
    return ", ".join(parts)


def _literal(value: str) -> str:
    """A SQL string literal of a value trellis made (COPY's query takes no parameters)."""
    return "'" + value.replace("'", "''") + "'"


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")  # COPY takes no parameters


def _commit(kind: CatalogKind, table_name: str, data_file: Path) -> tuple[int, str]:
    import pyarrow.parquet as pq

    catalog = open_catalog(kind)
    try:
        table = catalog.load_table(table_name)
    except NoSuchTableError:
        table = catalog.create_table(table_name, schema=pq.read_schema(data_file))
    with table.transaction() as tx:
        if table.current_snapshot() is not None:
            tx.delete(AlwaysTrue())
        tx.add_files([str(data_file)])
    table = catalog.load_table(table_name)
    current = table.current_snapshot()
    if current is None:  # pragma: no cover - add_files always makes a snapshot
        raise TrellisError(f"Iceberg table {table_name} has no snapshot after the commit")
    return current.snapshot_id, table.metadata_location


def _register(
    con: duckdb.DuckDBPyConnection, snapshot: Snapshot, catalog: CatalogKind, version: str
) -> None:
    invocation_id, dbt_vars = _last_dbt_run()
    con.execute(
        f"insert into {RAW_SCHEMA}.dataset_snapshots values"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            snapshot.snapshot_id,
            snapshot.dataset_name,
            snapshot.source_relation,
            FORMAT,
            snapshot.location,
            snapshot.iceberg_table,
            snapshot.iceberg_snapshot_id,
            snapshot.iceberg_metadata_location,
            snapshot.row_count,
            snapshot.bytes,
            snapshot.content_hash,
            snapshot.created_at,
            os.environ.get("TRELLIS_USER") or getpass.getuser(),
            invocation_id,
            version,
            json.dumps({"catalog": catalog, **dbt_vars}, sort_keys=True),
            snapshot.parent_snapshot_id,
            snapshot.policy_version,
        ],
    )


def _last_dbt_run() -> tuple[str | None, dict[str, Any]]:
    """The invocation id and vars of the last dbt run (target/run_results.json)."""
    target = Path(os.environ.get("DBT_TARGET_PATH", PROJECT_DIR / "target"))
    try:
        results = json.loads((target / "run_results.json").read_text())
    except (OSError, ValueError):
        return None, {}
    invocation = results.get("metadata", {}).get("invocation_id")
    return invocation, {"dbt_vars": results.get("args", {}).get("vars", {})}


def code_version() -> str:
    """The project's git commit (with -dirty for uncommitted changes), else the package version."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        from trellis import __version__

        return f"trellis {__version__}"
    return commit + ("-dirty" if dirty else "")


@contextmanager
def _watching(con: duckdb.DuckDBPyConnection, report: Callable[[float], None]) -> Iterator[None]:
    """Report DuckDB's progress of the running statement until it ends."""
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.2):
            try:
                fraction = con.query_progress()
            except duckdb.Error:
                return
            if fraction >= 0:
                report(min(fraction / 100.0, 1.0))

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
