"""Settings every command shares: the target's name and the modes of the files it creates."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

TRELLIS = str(Path(sys.executable).with_name("trellis"))
PROJECT = Path(__file__).resolve().parents[1]


def run(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRELLIS, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("args", "env", "where"),
    [
        (["sql", "select 1"], {"TRELLIS_TARGET": "postgress"}, "TRELLIS_TARGET"),
        (["sql", "select 1", "--target", "x"], {}, "--target"),
        (["build", "--target", "x"], {}, "--target"),
        (["replay", "m.yaml", "--target", "x"], {}, "--target"),
        (["judge", "m.yaml"], {"TRELLIS_TARGET": "duck"}, "TRELLIS_TARGET"),
        (["ingest", "requests", "in.jsonl"], {"TRELLIS_TARGET": "pg"}, "TRELLIS_TARGET"),
        (["demo", "--target", "sqlite"], {}, "--target"),
    ],
)
def test_an_unknown_target_is_an_error_naming_the_valid_ones(
    tmp_path: Path, args: list[str], env: dict[str, str], where: str
) -> None:
    (tmp_path / "m.yaml").write_text("variants: [{model: m}]\nnodes: {ids: [a]}\n")
    (tmp_path / "in.jsonl").write_text("{}\n")
    env = {"TRELLIS_DUCKDB_PATH": str(tmp_path / "w.duckdb"), **env}
    if "TRELLIS_TARGET" not in env:
        env["TRELLIS_TARGET"] = ""
    result = run(*args, env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trellis: error: unknown target '")
    assert lines[0].endswith(f"in {where}: choose one of duckdb, postgres")
    assert not (tmp_path / "w.duckdb").exists()


def test_dbt_refuses_an_unknown_target_from_the_same_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "debug", "--config-dir"],
        env={**os.environ, "TRELLIS_TARGET": "postgress", "DBT_PROFILES_DIR": str(PROJECT)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT,
    )
    parsed = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "parse", "--project-dir", str(PROJECT)],
        env={**os.environ, "TRELLIS_TARGET": "postgress", "DBT_PROFILES_DIR": str(PROJECT)},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=PROJECT,
    )
    assert result.returncode == 0  # only prints where profiles.yml is
    assert parsed.returncode != 0
    assert "postgress" in parsed.stdout and "duckdb" in parsed.stdout


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_trellis_creates_are_private_unless_trellis_umask_says_otherwise(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    generated = run("generate", str(data), "--requests", "200", env={})
    assert generated.returncode == 0, generated.stderr
    files = [p for p in data.rglob("*") if p.is_file()]
    assert files and all(_mode(p) == 0o600 for p in files)
    assert all(_mode(p) == 0o700 for p in [data, *(p for p in data.rglob("*") if p.is_dir())])

    private = tmp_path / "private.duckdb"
    shared = tmp_path / "shared.duckdb"
    line = tmp_path / "one.jsonl"
    line.write_text(json.dumps({"request_id": "x"}) + "\n")
    for path, umask in ((private, None), (shared, "022")):
        env = {"TRELLIS_DUCKDB_PATH": str(path), "TRELLIS_TARGET": "duckdb"}
        if umask is not None:
            env["TRELLIS_UMASK"] = umask
        result = run("ingest", "requests", str(line), env=env)
        assert path.exists(), result.stderr
    assert _mode(private) == 0o600
    assert _mode(shared) == 0o644


def test_a_bad_trellis_umask_is_a_one_line_error(tmp_path: Path) -> None:
    result = run("sql", "select 1", env={"TRELLIS_UMASK": "rw-r--r--"})
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "trellis: error: TRELLIS_UMASK='rw-r--r--' is not an octal umask such as 022 or 077"
    )
