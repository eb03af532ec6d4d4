"""`trellis ingest` as a user runs it: the installed command in a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
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


def test_cli_an_ingest_that_rejected_every_line_exits_non_zero_and_says_so(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", ["nope", request("b", status="x")])
    result = _run(["requests", str(path)], duckdb_env)

    assert result.returncode == 2
    assert "quarantined" in result.stdout
    assert result.stderr.strip().splitlines() == [
        "trellis: error: every one of the 2 lines read was rejected: "
        "see raw.quarantine (reason, detail, raw_text)"
    ]


def test_cli_a_pgport_that_is_not_a_number_is_a_one_line_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [request("a")])
    result = _run(["requests", str(path), "--target", "postgres"], {"PGPORT": "abc"})

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "trellis: error: PGPORT='abc' is not a port number"
    ]


def _big_file(path: Path, prefix: str, ids: range) -> Path:
    pad = "x" * 2000
    return write_jsonl(path, [request(f"{prefix}{i:06d}", metadata={"pad": pad}) for i in ids])


def test_cli_two_concurrent_ingests_of_overlapping_data_on_postgres_both_finish(
    pg_env: dict[str, str], tmp_path: Path
) -> None:
    """Nothing lost, nothing doubled, no deadlock: the writers take turns per batch."""
    first = _big_file(tmp_path / "a.jsonl", "r-", range(0, 30_000))
    second = _big_file(tmp_path / "b.jsonl", "r-", range(15_000, 45_000))
    env = {**os.environ, **pg_env, "COLUMNS": "120"}
    runs = [
        subprocess.Popen(
            [TRELLIS, "ingest", "requests", str(path), "--target", "postgres"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in (first, second)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    check = subprocess.run(
        ["psql", "-Atc", "select count(*), count(distinct request_id) from raw.requests"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )

    for run, (_, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr
        assert "Traceback" not in stderr
    assert check.stdout.strip() == "45000|45000"


def test_cli_ctrl_c_stops_cleanly_and_says_what_was_committed(
    pg_env: dict[str, str], tmp_path: Path
) -> None:
    path = _big_file(tmp_path / "a.jsonl", "r-", range(0, 200_000))
    env = {**os.environ, **pg_env, "COLUMNS": "120"}
    run = subprocess.Popen(
        [TRELLIS, "ingest", "requests", str(path), "--target", "postgres"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a suite started in the background of a
        # non-interactive shell inherits SIGINT ignored, and so would the child
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )

    def stored() -> int:
        found = subprocess.run(
            ["psql", "-Atc", "select count(*) from raw.requests"],
            env=env,
            capture_output=True,
            text=True,
        )
        return int(found.stdout.strip() or 0) if found.returncode == 0 else 0

    deadline = time.monotonic() + 300
    while stored() == 0 and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.2)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=300)

    assert run.returncode == 130, stderr
    assert "Traceback" not in stderr
    message = re.search(r"committed before the stop: ([\d,]+) loaded", stderr)
    assert message is not None, stderr
    assert int(message.group(1).replace(",", "")) == stored() < 200_000


def test_cli_rehash_brings_older_record_hashes_to_the_content_fingerprint(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    import duckdb

    path = write_jsonl(tmp_path / "in.jsonl", [request("a"), request("b")])
    assert _run(["requests", str(path)], duckdb_env).returncode == 0
    with duckdb.connect(duckdb_env["TRELLIS_DUCKDB_PATH"]) as conn:
        current = conn.execute("select record_hash from raw.requests order by 1").fetchall()
        conn.execute("update raw.requests set record_hash = md5(request_id)")
    rehash = subprocess.run(
        [TRELLIS, "rehash", "--target", "duckdb"],
        env={**os.environ, **duckdb_env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    with duckdb.connect(duckdb_env["TRELLIS_DUCKDB_PATH"]) as conn:
        after = conn.execute("select record_hash from raw.requests order by 1").fetchall()

    assert rehash.returncode == 0, rehash.stderr
    assert "2 record hashes updated on duckdb" in rehash.stdout
    assert after == current
