"""The raw tables have one DDL, run by dbt (on-run-start) and by trellis alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dbt import run_dbt
from tests.test_ingest_helpers import request, write_jsonl
from trellis.ingest import ingest_files
from trellis.storage import open_store

Target = tuple[str, dict[str, str]]


@pytest.mark.slow
def test_dbt_build_works_on_an_empty_warehouse_and_ingest_then_appends_to_its_tables(
    target_env: Target, tmp_path: Path
) -> None:
    target, env = target_env
    built = run_dbt(["build"], env, target, tmp_path / "dbt", check=False)
    assert built.returncode == 0, built.stdout[-3000:]
    path = write_jsonl(tmp_path / "in.jsonl", [request("a")])
    with open_store(target) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [path])
        staged = store.query("select count(*) from staging.stg_gateway__requests")

    assert report.loaded == 1
    assert staged == [(0,)]  # built before the ingest, from the empty raw table
