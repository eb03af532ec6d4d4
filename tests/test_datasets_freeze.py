"""`trellis freeze` and `trellis export` as a user runs them, read back by DuckDB and pyiceberg."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import psycopg
import pytest

from trellis.datasets import read
from trellis.datasets.freeze import find_snapshot, open_warehouse

TRELLIS = str(Path(sys.executable).with_name("trellis"))

GOOD = [
    {"role": "system", "content": "You book rooms."},
    {"role": "user", "content": "Book a room for <EMAIL_1>"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "book", "arguments": '{"guest": "<EMAIL_1>"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"ok": true}'},
    {"role": "assistant", "content": "Booked."},
]
EMPTY_ANSWER = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]
ORPHAN_TOOL = [
    {"role": "user", "content": "hi"},
    {"role": "tool", "tool_call_id": "nope", "content": "x"},
    {"role": "assistant", "content": "ok"},
]


def _trellis(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRELLIS, *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "TRELLIS_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "TRELLIS_FROZEN_DIR": str(tmp_path / "frozen"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def _make_sft(path: str, rows: list[tuple[str, list[dict[str, object]]]]) -> None:
    with duckdb.connect(path) as con:
        con.execute("create schema if not exists datasets")
        con.execute(
            "create or replace table datasets.sft_messages_dataset"
            " (example_id varchar, tenant_scope varchar, messages varchar)"
        )
        con.executemany(
            "insert into datasets.sft_messages_dataset values (?, 'global', ?)",
            [(example_id, json.dumps(messages)) for example_id, messages in rows],
        )


def test_freezing_twice_keeps_both_snapshots_readable_by_duckdb_and_pyiceberg(
    env: dict[str, str],
) -> None:
    _make_sft(env["TRELLIS_DUCKDB_PATH"], [("a", GOOD), ("b", GOOD)])
    first = _trellis(["freeze", "sft_messages_dataset", "--name", "sft"], env)
    assert first.returncode == 0, first.stderr
    assert "2 rows" in first.stdout
    _make_sft(env["TRELLIS_DUCKDB_PATH"], [("a", GOOD), ("b", GOOD), ("c", GOOD)])
    second = _trellis(["freeze", "sft_messages_dataset", "--name", "sft"], env)
    assert second.returncode == 0, second.stderr

    con = open_warehouse()
    try:
        rows = con.execute(
            "select snapshot_id, row_count, parent_snapshot_id, code_version, format"
            " from raw.dataset_snapshots order by created_at"
        ).fetchall()
        snapshots = [find_snapshot(con, row[0]) for row in rows]
    finally:
        con.close()
    assert [r[1] for r in rows] == [2, 3]
    assert rows[1][2] == rows[0][0]
    assert rows[0][3] and rows[0][4] == "parquet+iceberg"
    for snapshot, expected in zip(snapshots, (["a", "b"], ["a", "b", "c"]), strict=True):
        by_iceberg = sorted(read.with_pyiceberg(snapshot).column("example_id").to_pylist())
        by_duckdb = sorted(read.with_duckdb(snapshot).column("example_id").to_pylist())
        assert by_iceberg == by_duckdb == expected
        data_file = next(Path(snapshot.location).glob("*.parquet"))
        assert data_file.stat().st_mode & 0o222 == 0


def test_freezing_unchanged_content_again_is_a_no_op(env: dict[str, str]) -> None:
    _make_sft(env["TRELLIS_DUCKDB_PATH"], [("a", GOOD)])
    assert _trellis(["freeze", "sft_messages_dataset"], env).returncode == 0
    again = _trellis(["freeze", "sft_messages_dataset"], env)
    assert again.returncode == 0
    assert again.stdout.startswith("unchanged")
    with duckdb.connect(env["TRELLIS_DUCKDB_PATH"]) as con:
        assert con.execute("select count(*) from raw.dataset_snapshots").fetchone() == (1,)


def test_an_unknown_dataset_or_snapshot_is_one_line_and_exit_2(env: dict[str, str]) -> None:
    _make_sft(env["TRELLIS_DUCKDB_PATH"], [("a", GOOD)])
    for args in (["freeze", "no_such_dataset"], ["export", "no_such_snapshot", "out.jsonl"]):
        result = _trellis(args, env)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("trellis: error: unknown ")
        assert "Traceback" not in result.stderr


def test_openai_export_writes_valid_rows_and_reports_the_others(
    env: dict[str, str], tmp_path: Path
) -> None:
    _make_sft(env["TRELLIS_DUCKDB_PATH"], [("a", GOOD), ("b", EMPTY_ANSWER), ("c", ORPHAN_TOOL)])
    assert _trellis(["freeze", "sft_messages_dataset"], env).returncode == 0
    out = tmp_path / "openai.jsonl"
    result = _trellis(["export", "sft_messages_dataset", str(out), "--format", "openai"], env)
    assert result.returncode == 0, result.stderr
    assert "1 rows" in result.stdout and "rejected 2 rows" in result.stdout
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert written == [{"messages": GOOD}]
    rejected = {
        r["example_id"]: r["problems"]
        for r in map(json.loads, Path(f"{out}.rejected.jsonl").read_text().splitlines())
    }
    assert rejected == {
        "b": ["message 1 is an empty assistant turn"],
        "c": ["message 1 answers no earlier tool call"],
    }


def test_trl_and_hf_exports_load_as_conversational_datasets(
    env: dict[str, str], tmp_path: Path
) -> None:
    datasets = pytest.importorskip("datasets")
    _make_sft(env["TRELLIS_DUCKDB_PATH"], [("a", GOOD), ("b", GOOD)])
    assert _trellis(["freeze", "sft_messages_dataset"], env).returncode == 0
    trl = tmp_path / "trl.jsonl"
    hf = tmp_path / "hf"
    for out, export_format in ((trl, "trl"), (hf, "hf")):
        args = ["export", "sft_messages_dataset", str(out), "--format", export_format]
        exported = _trellis(args, env)
        assert exported.returncode == 0, exported.stderr
    from_jsonl = datasets.load_dataset("json", data_files=str(trl), split="train")
    from_folder = datasets.load_dataset(str(hf), split="train")
    for loaded in (from_jsonl, from_folder):
        assert loaded.num_rows == 2
        # TRL's is_conversational: the messages are a list of {role, content} dicts
        example = loaded[0]["messages"]
        assert isinstance(example, list) and all("role" in m and "content" in m for m in example)
        assert [m["role"] for m in example] == [m["role"] for m in GOOD]
    assert from_folder[0]["messages"][2]["tool_calls"][0]["function"]["name"] == "book"


@pytest.mark.postgres
def test_the_iceberg_catalog_can_live_in_postgresql(
    env: dict[str, str], pg_env: dict[str, str]
) -> None:
    _make_sft(env["TRELLIS_DUCKDB_PATH"], [("a", GOOD), ("b", GOOD)])
    result = _trellis(
        ["freeze", "sft_messages_dataset", "--catalog", "postgres"], {**env, **pg_env}
    )
    assert result.returncode == 0, result.stderr
    with psycopg.connect(
        host=pg_env["PGHOST"],
        port=pg_env["PGPORT"],
        user=pg_env["PGUSER"],
        password=pg_env.get("PGPASSWORD", ""),
        dbname=pg_env["PGDATABASE"],
    ) as pg:
        tables = pg.execute("select table_namespace, table_name from iceberg_tables").fetchall()
    assert tables == [("datasets", "sft_messages_dataset")]
    con = open_warehouse()
    try:
        snapshot = find_snapshot(con, "sft_messages_dataset")
    finally:
        con.close()
    assert sorted(read.with_pyiceberg(snapshot).column("example_id").to_pylist()) == ["a", "b"]
