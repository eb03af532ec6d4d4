"""`trellis ingest` as a user runs it: the installed command in a subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.test_ingest_helpers import request, write_jsonl

TRELLIS = str(Path(sys.executable).with_name("trellis"))


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRELLIS, "ingest", *args],
        env={**os.environ, **env, "COLUMNS": "120"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_prints_loaded_duplicate_and_quarantined_counts_by_reason(
    target_env: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    target, env = target_env
    path = write_jsonl(tmp_path / "in.jsonl", [request("a"), "nope", request("b", status="x")])
    first = _run(["requests", str(path), "--target", target], env)
    second = _run(["requests", str(path), "--target", target], env)

    assert first.returncode == 0, first.stderr
    assert "loaded" in first.stdout and "invalid_json" in first.stdout
    assert "invalid_enum" in first.stdout
    assert second.returncode == 0, second.stderr
    assert "already in raw.quarantine" in second.stdout


def test_cli_feedback_command_uses_the_default_target(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    record = {
        "feedback_id": "f",
        "request_id": "r",
        "created_at": "2026-01-01T00:00:00Z",
        "outcome": "success",
    }
    path = write_jsonl(tmp_path / "fb.jsonl", [json.dumps(record)])
    result = _run(["feedback", str(path)], {**duckdb_env, "TRELLIS_TARGET": "duckdb"})

    assert result.returncode == 0, result.stderr
    assert "feedback from 1 file into duckdb" in result.stdout


def test_cli_missing_file_fails_with_one_line_and_no_traceback(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    good = write_jsonl(tmp_path / "in.jsonl", [request("a")])
    result = _run(["requests", str(good), str(tmp_path / "missing.jsonl")], duckdb_env)

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"trellis: error: no such file: {tmp_path / 'missing.jsonl'}"
    ]


def test_cli_unreachable_postgres_fails_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [request("a")])
    env = {"PGHOST": "127.0.0.1", "PGPORT": str(_closed_port()), "PGDATABASE": "trellis"}
    result = _run(["requests", str(path), "--target", "postgres"], env)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("trellis: error: cannot connect to PostgreSQL at 127.0.0.1:")
    assert "Traceback" not in result.stderr


def test_cli_unknown_target_is_a_one_line_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [request("a")])
    result = _run(["requests", str(path), "--target", "oracle"], {})

    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "trellis: error: unknown target 'oracle' in --target: choose one of duckdb, postgres"
    ]
