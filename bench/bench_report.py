"""Time `trellis report` on a large DuckDB warehouse: wall seconds and peak RSS.

    .venv/bin/python bench/bench_report.py --requests 1000000

Steps: generate demo traffic (reused when the folder holds the same run),
ingest it with a judged replay cohort (tests/analytics_world.py) into a DuckDB
file (reused with --reuse-warehouse), `dbt run` every model but the
evaluation layer and the datasets built on it, then run `trellis report` in a
child process, timed, and print its wall time and peak resident memory (the
target: 30 s, 2 GiB at 1M requests).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR / "python"))
sys.path.insert(0, str(PROJECT_DIR))

from tests.analytics_world import judged_world  # noqa: E402
from tests.support.warehouse import write_jsonl  # noqa: E402

from trellis.ingest import ingest_files  # noqa: E402
from trellis.storage import open_store  # noqa: E402
from trellis_demo.generate import generate  # noqa: E402


def timed(label: str, command: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=PROJECT_DIR, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(f"{label} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    print(f"{label:<16} {seconds:8.1f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--judged-nodes", type=int, default=300)
    parser.add_argument("--work", type=Path, default=Path("/tmp/trellis-bench-report"))
    parser.add_argument("--reuse-warehouse", action="store_true")
    opts = parser.parse_args()

    work: Path = opts.work
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"traffic-{opts.requests}-{opts.seed}"
    db = work / f"warehouse-{opts.requests}.duckdb"
    env = {
        **os.environ,
        "TRELLIS_DUCKDB_PATH": str(db),
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_TARGET_PATH": str(work / "dbt-target"),
        "DBT_LOG_PATH": str(work / "dbt-target" / "logs"),
    }
    os.environ["TRELLIS_DUCKDB_PATH"] = str(db)
    bin_dir = Path(sys.executable).parent

    if not (opts.reuse_warehouse and db.exists()):
        if not (data / "truth" / "summary.json").exists():
            began = time.perf_counter()
            generate(data, opts.requests, opts.seed, malformed=False)
            print(f"{'generate':<16} {time.perf_counter() - began:8.1f} s", flush=True)
        for leftover in (db, db.with_suffix(".duckdb.wal")):
            leftover.unlink(missing_ok=True)
        requests, feedback = judged_world(nodes=opts.judged_nodes)
        began = time.perf_counter()
        with open_store("duckdb") as store:
            ingest_files(store, "requests", sorted((data / "requests").iterdir()))
            ingest_files(store, "requests", [write_jsonl(work / "judged_requests.jsonl", requests)])
            ingest_files(store, "feedback", sorted((data / "feedback").iterdir()))
            ingest_files(store, "feedback", [write_jsonl(work / "judged_feedback.jsonl", feedback)])
        print(f"{'ingest':<16} {time.perf_counter() - began:8.1f} s", flush=True)
        timed("dbt seed", [str(bin_dir / "dbt"), "seed", "--target", "duckdb"], env)
        timed(
            "dbt run",
            [
                str(bin_dir / "dbt"),
                *("run", "--exclude", "tag:evaluation", "tag:datasets", "--target", "duckdb"),
            ],
            env,
        )

    out = work / "report.html"
    began = time.perf_counter()
    child = subprocess.Popen(
        [str(bin_dir / "trellis"), "report", "--out", str(out)], env=env, cwd=PROJECT_DIR
    )
    # wait4: this child's own resource usage, not the largest of every child so far
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - began
    if status != 0:
        raise SystemExit(f"trellis report failed with status {status}")
    print(f"requests         {opts.requests:>8}")
    print(f"report wall      {seconds:8.1f} s   (target 30 s)")
    print(f"report CPU       {usage.ru_utime + usage.ru_stime:8.1f} s")
    print(f"report peak RSS  {usage.ru_maxrss / 1024:8.0f} MiB (target 2048 MiB)")
    print(f"report size      {out.stat().st_size / 1024:8.0f} KiB")


if __name__ == "__main__":
    main()
