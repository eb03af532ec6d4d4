"""`trellis demo` end to end on DuckDB: every mart has rows, the summary reads like prose,
the command it suggests works, and the shipped manifests dry-run against what it built."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

TRELLIS = str(Path(sys.executable).with_name("trellis"))
PROJECT = Path(__file__).resolve().parents[1]


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env={**os.environ, **env}, capture_output=True, text=True, timeout=900, cwd=cwd
    )


@pytest.mark.slow
def test_demo_builds_every_mart_with_rows_and_ends_with_a_working_command(
    tmp_path: Path,
) -> None:
    env = {"TRELLIS_DUCKDB_PATH": str(tmp_path / "w.duckdb"), "TRELLIS_TARGET": ""}
    demo = run(
        [TRELLIS, "demo", "--requests", "3000", "--out", str(tmp_path / "data")], env, tmp_path
    )
    assert demo.returncode == 0, demo.stderr[-2000:]
    ours = demo.stdout[demo.stdout.index("marts") :]
    counts = {
        cells[1]: cells[2]
        for cells in (line.split("│") for line in ours.splitlines())
        if len(cells) == 4 and "." in cells[1]
    }
    counts = {name.strip(): rows.strip() for name, rows in counts.items()}
    assert "agents.confidence_divergence" in counts and "costs.cost_anomalies" in counts
    # every mart has rows, but those that wait for people (reviews, a freeze) say so
    waiting = {name for name, rows in counts.items() if rows.startswith("0, waits for ")}
    assert waiting <= {
        "evaluation.human_eval_labels",
        "evaluation.preference_labels",
        "datasets.dataset_snapshot_registry",
    }
    assert len(counts) >= 30
    assert all(rows not in ("0", "not built") for rows in counts.values())
    assert "Largest confidence divergence: agent " in ours
    assert "Largest cost anomaly: agent " in ours
    ingest = demo.stdout[demo.stdout.index("2/3 ingest") : demo.stdout.index("3/3 dbt build")]
    assert "quarantined (" in ingest and "{" not in ingest and "Counter" not in ingest

    lines = ours.strip().splitlines()
    assert lines[-2] == "Explore it:"
    suggested = shlex.split(lines[-1])
    assert Path(suggested[0]).name == "trellis" and suggested[1] == "sql"
    explored = run(suggested, env, tmp_path)  # as printed: `trellis` on PATH, else its path
    assert explored.returncode == 0 and "cost_date" in explored.stdout

    for command, manifest in (("replay", "replay_manifest.yaml"), ("judge", "judge_manifest.yaml")):
        dry = run(
            [TRELLIS, command, str(PROJECT / "examples" / manifest), "--dry-run"], env, tmp_path
        )
        assert dry.returncode == 0, dry.stderr
        first = dry.stdout.splitlines()[0]
        tasks = re.match(r"cohort \S+: ([\d,]+) tasks over ", first)
        assert tasks and int(tasks.group(1).replace(",", "")) > 0, first
        assert "estimated cost $" in first
        assert '"messages"' in dry.stdout


def test_demo_without_the_extra_says_how_to_install_it(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['trellis_demo'] = None\n"
        "from trellis.cli import main\n"
        "sys.argv = ['trellis', *sys.argv[1:]]\n"
        "main()\n"
    )
    for args in (["demo"], ["generate", str(tmp_path / "out")]):
        result = run([sys.executable, "-c", code, *args], {}, tmp_path)
        assert result.returncode == 2
        assert result.stderr.strip() == (
            "trellis: error: the demo generator is not installed: "
            "pip install 'trellis[demo]' (or `make install`)"
        )
