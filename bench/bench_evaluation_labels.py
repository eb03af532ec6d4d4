"""Time the label, review and preference models on DuckDB, after the lineage build.

    .venv/bin/python bench/bench_evaluation_labels.py --requests 100000

Steps, each timed: generate demo traffic, ingest it into a fresh DuckDB file,
`dbt build --select tag:lineage`, then `dbt run` of the models of this layer
that need no clusters (rule and model labels, node scores, candidate pairs,
human labels, preference labels) and prints the rows each holds and the
slowest models. The queue and the cluster labels stand on the clusters, which
bench the embedding and clustering side.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR / "python"))

from trellis.services.generate import generate  # noqa: E402
from trellis.services.ingest import ingest_files  # noqa: E402
from trellis.storage import open_store  # noqa: E402

MODELS = [
    "int_request_user_turns_keyed",
    "int_trajectory_steps_described",
    "int_trajectory_tool_calls_listed",
    "int_trajectory_categories_ruled",
    "int_trajectory_categories_judged",
    "trajectory_category_labels",
    "int_response_nodes_scored",
    "candidate_preference_pairs",
    "int_human_reviews_parsed",
    "human_eval_labels",
    "preference_labels",
]


def dbt(args: list[str], env: dict[str, str], target_path: Path) -> tuple[float, list[dict]]:
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
    return seconds, json.loads((target_path / "run_results.json").read_text())["results"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-eval-labels-"))
    env = {
        **os.environ,
        "TRELLIS_DUCKDB_PATH": str(work / "warehouse.duckdb"),
        "DBT_PROFILES_DIR": str(PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    os.environ["TRELLIS_DUCKDB_PATH"] = env["TRELLIS_DUCKDB_PATH"]
    began = time.perf_counter()
    generate(work / "demo", args.requests, seed=args.seed, malformed=False)
    print(f"generate {args.requests:,} requests: {time.perf_counter() - began:.1f} s")
    began = time.perf_counter()
    with open_store("duckdb") as store:
        ingest_files(store, "requests", sorted((work / "demo/requests").iterdir()))
        ingest_files(store, "feedback", sorted((work / "demo/feedback").iterdir()))
    print(f"ingest: {time.perf_counter() - began:.1f} s")
    seconds, _ = dbt(["build", "--select", "tag:lineage"], env, work / "dbt-lineage")
    print(f"dbt build tag:lineage: {seconds:.1f} s")
    seconds, results = dbt(["run", "--select", *MODELS], env, work / "dbt-labels")
    print(f"dbt run of the {len(MODELS)} label/preference models: {seconds:.1f} s wall")
    for result in sorted(results, key=lambda r: -r["execution_time"])[:5]:
        print(f"  {result['unique_id'].split('.')[-1]:<36} {result['execution_time']:6.2f} s")
    with open_store("duckdb") as store:
        for table in (
            "lineage.trajectory_units",
            "evaluation.trajectory_category_labels",
            "evaluation.candidate_preference_pairs",
            "evaluation.preference_labels",
        ):
            count = store.query(f"select count(*) from {table}")[0][0]
            print(f"  rows {table:<40} {count:>10,}")


if __name__ == "__main__":
    main()
