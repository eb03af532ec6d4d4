"""Build a real warehouse for a test module: generate, ingest, dbt build."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.dbt import run_dbt
from tests.support.postgres import Server, temporary_database
from trellis.config import TargetName
from trellis.ingest import ingest_files
from trellis.storage import open_store


@dataclass
class Warehouse:
    """One target's warehouse, with the environment that points at it."""

    target: TargetName
    env: dict[str, str]
    work: Path

    @contextlib.contextmanager
    def _env(self) -> Iterator[None]:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in self.env.items():
                patch.setenv(key, value)
            yield

    def ingest(self, kind: str, paths: Sequence[Path]) -> Any:
        with self._env(), open_store(self.target) as store:
            return ingest_files(store, kind, list(paths))  # type: ignore[arg-type]

    def dbt(self, *args: str) -> str:
        return run_dbt(list(args), self.env, self.target, self.work / "dbt").stdout

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        with self._env(), open_store(self.target) as store:
            return store.query(sql, params)

    def rows_by_id(self, table: str, key: str) -> dict[Any, dict[str, Any]]:
        """All rows of a table as dicts keyed by one column."""
        with self._env(), open_store(self.target) as store:
            names = [
                row[0]
                for row in store.query(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    table.split("."),
                )
            ]
            rows = store.query(f"select {', '.join(names)} from {table}")
        return {row[names.index(key)]: dict(zip(names, row, strict=True)) for row in rows}


@contextlib.contextmanager
def warehouse(target: TargetName, work: Path, pg_server: Server | None) -> Iterator[Warehouse]:
    """A fresh, empty warehouse on the target (a new DuckDB file or PostgreSQL database)."""
    work.mkdir(parents=True, exist_ok=True)
    if target == "duckdb":
        yield Warehouse(target, {"TRELLIS_DUCKDB_PATH": str(work / "warehouse.duckdb")}, work)
        return
    assert pg_server is not None
    with temporary_database(pg_server) as dbname:
        yield Warehouse(target, pg_server.env(dbname), work)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path: Path, records: Sequence[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path
