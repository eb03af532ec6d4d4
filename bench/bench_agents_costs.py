"""Time the agents and costs marts on DuckDB at scale, next to the lineage build.

    .venv/bin/python bench/bench_agents_costs.py --requests 1000000

Steps, each timed: generate demo traffic (reused when the folder already holds
a run with the same options), ingest it into a fresh DuckDB file, build the
inputs (seeds, staging), then `dbt build --select tag:agents tag:costs`
without staging (models, data tests and unit tests) and, for comparison, the
lineage models (`dbt run --select tag:lineage`, staging excluded too). Prints a summary and the
slowest models, and writes it as JSON next to the data.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR / "python"))

from trellis.errors import TrellisError  # noqa: E402
from trellis.ingest import ingest_files  # noqa: E402
from trellis.storage import open_store  # noqa: E402
from trellis.storage.schema import raw_ddl  # noqa: E402
from trellis_demo.generate import generate  # noqa: E402

# Setup only, when the ingest service cannot load the run: the records as they
# are, first copy of an id wins (the generated traffic has no malformed lines).
BULK_LOAD = """
insert or ignore into raw.{table}
select
    {id_column}, {second_column}, cast(json_extract_string(json, '$.created_at') as timestamptz),
    md5(cast(json as varchar)), json, filename, 0, now()
from read_json_objects(?, format = 'newline_delimited', filename = true)
"""


def dbt(args: Sequence[str], env: dict[str, str], target_path: Path) -> tuple[float, list[Any]]:
    """Run dbt on DuckDB; return wall seconds and the run's per-node results."""
    began = time.perf_counter()
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), *args, "--target", "duckdb"],
        env={**env, "DBT_TARGET_PATH": str(target_path), "DBT_LOG_PATH": str(target_path / "logs")},
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}")
    results = json.loads((target_path / "run_results.json").read_text())["results"]
    return seconds, results


def bulk_load(db: Path, data: Path) -> None:
    import duckdb

    db.unlink(missing_ok=True)
    with duckdb.connect(str(db)) as conn:
        for statement in raw_ddl("duckdb"):
            conn.execute(statement)
        for table, id_column, second_column in (
            (
                "requests",
                "json_extract_string(json, '$.request_id')",
                "coalesce(json_extract_string(json, '$.tenant_id'), 'default')",
            ),
            (
                "feedback",
                "json_extract_string(json, '$.feedback_id')",
                "json_extract_string(json, '$.request_id')",
            ),
        ):
            files = [str(p) for p in sorted((data / table).iterdir())]
            conn.execute(
                BULK_LOAD.format(table=table, id_column=id_column, second_column=second_column),
                [files],
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--work", type=Path, default=Path("/tmp/trellis-bench-agents"))
    parser.add_argument("--skip-lineage", action="store_true")
    parser.add_argument(
        "--reuse-warehouse", action="store_true", help="keep an already loaded DuckDB file"
    )
    opts = parser.parse_args()

    work = opts.work
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"traffic-{opts.requests}-{opts.seed}-{opts.days}"
    timings: dict[str, float] = {}

    if not (data / "truth" / "summary.json").exists():
        began = time.perf_counter()
        generate(data, opts.requests, opts.seed, days=opts.days, malformed=False)
        timings["generate"] = time.perf_counter() - began

    db = work / f"warehouse-{opts.requests}.duckdb"
    reuse = opts.reuse_warehouse and db.exists()
    if not reuse:
        for leftover in (db, db.with_suffix(".duckdb.wal")):
            leftover.unlink(missing_ok=True)
    env = {
        **os.environ,
        "TRELLIS_DUCKDB_PATH": str(db),
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    os.environ["TRELLIS_DUCKDB_PATH"] = str(db)
    # The ingest's default DuckDB memory budget is sized for small machines.
    os.environ.setdefault("TRELLIS_DUCKDB_MEMORY_LIMIT", "4GB")

    if not reuse:
        began = time.perf_counter()
        try:
            with open_store("duckdb") as store:
                ingest_files(store, "requests", sorted((data / "requests").iterdir()))
                ingest_files(store, "feedback", sorted((data / "feedback").iterdir()))
            timings["ingest"] = time.perf_counter() - began
        except TrellisError as exc:
            print(f"ingest failed ({exc}); loading the raw tables in bulk", file=sys.stderr)
            bulk_load(db, data)
            timings["bulk_load"] = time.perf_counter() - began

    target = work / "dbt-target"
    timings["seed_load"], _ = dbt(["seed"], env, target)
    timings["staging_run"], _ = dbt(["run", "--select", "path:models/staging"], env, target)
    timings["agents_costs_build"], results = dbt(
        ["build", "--select", "tag:agents", "tag:costs", "--exclude", "path:models/staging"],
        env,
        target,
    )
    models = sorted(
        (r for r in results if r["unique_id"].startswith("model.")),
        key=lambda r: r["execution_time"],
        reverse=True,
    )
    timings["agents_costs_models_only"] = sum(r["execution_time"] for r in models)
    if not opts.skip_lineage:
        try:
            timings["lineage_run"], _ = dbt(
                ["run", "--select", "tag:lineage", "--exclude", "path:models/staging"], env, target
            )
        except SystemExit as exc:
            print(f"lineage build failed, not timed: {str(exc)[-2000:]}", file=sys.stderr)

    report = {
        "requests": opts.requests,
        "days": opts.days,
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "slowest_models": [
            {"model": r["unique_id"].split(".")[-1], "seconds": round(r["execution_time"], 2)}
            for r in models[:6]
        ],
    }
    (work / f"bench_agents_costs-{opts.requests}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
