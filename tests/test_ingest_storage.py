"""The Store interface on both targets: raw schema, parameters, bulk staging, clear errors."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from trellis.errors import TrellisError
from trellis.storage import open_store


def test_open_store_creates_the_raw_tables(target_env: tuple[str, dict[str, str]]) -> None:
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        assert store.target == target_env[0]
        for table in ("requests", "feedback", "quarantine"):
            assert store.query(f"select count(*) from raw.{table}") == [(0,)]
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]  # idempotent DDL
        assert store.query("select count(*) from raw.requests") == [(0,)]


def test_query_takes_question_mark_parameters_on_both_targets(
    target_env: tuple[str, dict[str, str]],
) -> None:
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        store.execute("create temp table t (k varchar, v bigint)")
        store.execute("insert into t values (?, ?), (?, ?)", ["it's 100%", 1, "a?b", 2])
        rows = store.query("select k, v from t where k like '%?%' or v = ? order by v", [1])

    assert rows == [("it's 100%", 1), ("a?b", 2)]


def test_load_temp_table_bulk_loads_rows_shaped_like_a_table(
    target_env: tuple[str, dict[str, str]],
) -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    rows = pa.table(
        {
            "quarantine_id": ["q1", "q2"],
            "record_kind": ["requests", "requests"],
            "source_file": ["f", "f"],
            "source_line": [1, 2],
            "reason": ["invalid_json", "conflict"],
            "detail": ['a "quoted", comma', None],
            "record_id": [None, ""],
            "raw_text": ["line\nwith newline", "é"],
            "quarantined_at": pa.array([now, now], pa.timestamp("us", tz="UTC")),
        }
    )
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        store.load_temp_table("staged", "raw.quarantine", rows)
        store.load_temp_table("staged", "raw.quarantine", rows)  # replaces, not appends
        loaded = store.query(
            "select quarantine_id, detail, record_id, raw_text, quarantined_at "
            "from staged order by 1"
        )

    assert [row[:4] for row in loaded] == [
        ("q1", 'a "quoted", comma', None, "line\nwith newline"),
        ("q2", None, "", "é"),
    ]
    assert loaded[0][4] == now


def test_a_duckdb_file_locked_by_another_process_is_a_one_line_error(
    duckdb_env: dict[str, str],
) -> None:
    path = duckdb_env["TRELLIS_DUCKDB_PATH"]
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
            "time.sleep(30)",
            path,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(TrellisError) as error, open_store("duckdb"):
            pass
    finally:
        holder.kill()
        holder.wait()
    message = str(error.value)
    assert "\n" not in message
    assert "locked by another process" in message and str(holder.pid) in message


def test_a_duckdb_path_that_cannot_be_created_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TRELLIS_DUCKDB_PATH", str(blocker / "warehouse.duckdb"))
    start = time.monotonic()
    with pytest.raises(TrellisError) as error, open_store("duckdb"):
        pass
    assert "\n" not in str(error.value)
    assert time.monotonic() - start < 10
