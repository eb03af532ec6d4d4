"""Time the evaluation chain: embeddings, incremental embedding, clustering, peak RSS.

    .venv/bin/python bench/bench_evaluation.py --requests 100000

Steps: generate demo traffic (6 tenants) and 1% more of it with another seed,
ingest the first part into a fresh DuckDB file, `dbt build --select
tag:lineage`, then:
1. embed every trajectory's task and behavior views with wordllama through
   the library the dbt model calls (trellis.evaluation.trajectory_embeddings):
   trajectories/s, distinct texts/s and MB/s of text;
2. `dbt build --select tag:evaluation` under /usr/bin/time: wall and peak RSS;
3. ingest the 1%, rebuild lineage, and time the incremental embedding (the
   dbt model, only new or changed trajectories) against the full one;
4. cluster 100k task vectors (the warehouse's, resampled with small noise
   when it holds fewer): fit with k chosen by silhouette, then assign;
5. clustering quality on the labelled topic corpus: V-measure and ARI.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR / "python"))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import adjusted_rand_score, v_measure_score  # noqa: E402

from trellis.evaluation import clustering  # noqa: E402
from trellis.evaluation.embedders import WordLlamaEmbedder  # noqa: E402
from trellis.evaluation.topic_corpus import topic_corpus, write_jsonl  # noqa: E402
from trellis.evaluation.trajectory_embeddings import embed_trajectories  # noqa: E402
from trellis.ingest import ingest_files  # noqa: E402
from trellis.storage import open_store  # noqa: E402
from trellis_demo.generate import generate  # noqa: E402


def dbt(args: list[str], env: dict[str, str], work: Path) -> tuple[float, float]:
    """Run dbt on DuckDB under /usr/bin/time -v; wall seconds and peak RSS in MB."""
    began = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-v", str(Path(sys.executable).with_name("dbt")), *args],
        env={
            **env,
            "DBT_TARGET_PATH": str(work / "dbt"),
            "DBT_LOG_PATH": str(work / "dbt" / "logs"),
        },
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(
            f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
        )
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
    return wall, (int(match.group(1)) / 1024 if match else float("nan"))


def ingest(paths: list[Path]) -> None:
    with open_store("duckdb") as store:
        ingest_files(store, "requests", paths)


def embed_once(path: str) -> dict[str, float]:
    """The library call of int_trajectory_views_embedded on every trajectory, timed."""
    embedder = WordLlamaEmbedder()
    with duckdb.connect(path) as con:
        began = time.perf_counter()
        cpu_began = time.process_time()
        _, stats = embed_trajectories(
            con,
            trajectories=con.sql("select * from lineage.trajectory_units"),
            requests=con.sql("select * from raw.requests"),
            turn_counts=con.sql("select * from intermediate.int_user_turns_counted"),
            existing=None,
            embedder=embedder,
        )
        seconds = time.perf_counter() - began
        # The machine is shared: CPU seconds (all threads) say what the load hides.
        cpu_seconds = time.process_time() - cpu_began
    return {
        "trajectories": stats.trajectories,
        "rows": stats.rows,
        "texts": stats.texts,
        "text_mb": stats.text_bytes / 1e6,
        "seconds": seconds,
        "cpu_s": cpu_seconds,
        "trajectories_per_s": stats.trajectories / seconds,
        "trajectories_per_cpu_s": stats.trajectories / cpu_seconds,
        "texts_per_s": stats.texts / seconds,
        "mb_per_s": stats.text_bytes / 1e6 / seconds,
    }


def cluster_100k(path: str, count: int) -> dict[str, float]:
    with duckdb.connect(path, read_only=True) as con:
        rows = con.execute(
            "select embedding from evaluation.trajectory_embeddings where view = 'task'"
        ).fetchall()
    base = np.asarray([row[0] for row in rows], np.float32)
    rng = np.random.default_rng(0)
    picked = base[rng.integers(0, len(base), count)] if len(base) < count else base[:count]
    vectors = picked + rng.normal(scale=0.01, size=picked.shape).astype(np.float32)
    began = time.perf_counter()
    fitted = clustering.fit(vectors, None, seed=7)
    fit_s = time.perf_counter() - began
    began = time.perf_counter()
    clustering.assign(vectors, fitted)
    assign_s = time.perf_counter() - began
    return {
        "vectors": count,
        "source_vectors": len(base),
        "k": fitted.k,
        "fit_s": fit_s,
        "assign_s": assign_s,
    }


def topic_quality(work: Path, conversations: int) -> dict[str, float]:
    env = {**os.environ, "TRELLIS_DUCKDB_PATH": str(work / "topics.duckdb")}
    corpus = topic_corpus(conversations, seed=3)
    path = write_jsonl(corpus, work / "topics" / "requests.jsonl")
    os.environ["TRELLIS_DUCKDB_PATH"] = env["TRELLIS_DUCKDB_PATH"]
    ingest([path])
    dbt(["build", "--select", "tag:lineage", "tag:evaluation"], env, work / "topics")
    with duckdb.connect(env["TRELLIS_DUCKDB_PATH"], read_only=True) as con:
        rows = con.execute(
            "select units.leaf_node_id, clusters.cluster_id "
            "from evaluation.trajectory_clusters as clusters "
            "join lineage.trajectory_units as units using (trajectory_id) "
            "where clusters.view = 'task'"
        ).fetchall()
    truth = [corpus.labels[leaf] for leaf, _ in rows if leaf in corpus.labels]
    found = [cluster for leaf, cluster in rows if leaf in corpus.labels]
    return {
        "conversations": len(truth),
        "topics": len(set(truth)),
        "clusters": len(set(found)),
        "v_measure": v_measure_score(truth, found),
        "ari": adjusted_rand_score(truth, found),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--cluster-vectors", type=int, default=100_000)
    parser.add_argument("--topic-conversations", type=int, default=2400)
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "trellis-bench-evaluation"
    )
    args = parser.parse_args()
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    warehouse = work / "warehouse.duckdb"
    for stale in (warehouse, work / "topics.duckdb"):
        stale.unlink(missing_ok=True)
    env = {
        **os.environ,
        "TRELLIS_DUCKDB_PATH": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    os.environ["TRELLIS_DUCKDB_PATH"] = str(warehouse)
    results: dict[str, object] = {"requests": args.requests}

    generate(work / "base", args.requests, seed=7, tenants=6, malformed=False)
    generate(work / "new", max(1, args.requests // 100), seed=8, tenants=6, malformed=False)
    ingest(sorted((work / "base" / "requests").iterdir()))
    lineage_s, _ = dbt(["build", "--select", "tag:lineage"], env, work)
    results["lineage_build_s"] = lineage_s
    # The boilerplate counts the embedding reads; then the timed library call.
    dbt(["build", "--select", "tenant_data_policies", "int_user_turns_counted"], env, work)
    results["embed"] = embed_once(str(warehouse))
    print("embedding:", json.dumps(results["embed"], indent=1))

    full_s, full_rss = dbt(["build", "--select", "tag:evaluation"], env, work)
    results["evaluation_build"] = {"wall_s": full_s, "peak_rss_mb": full_rss}
    print("dbt build tag:evaluation (full):", f"{full_s:.1f} s, peak RSS {full_rss:.0f} MB")

    ingest(sorted((work / "new" / "requests").iterdir()))
    dbt(["build", "--select", "tag:lineage"], env, work)
    began = time.perf_counter()
    dbt(["run", "--select", "int_user_turns_counted", "int_trajectory_views_embedded"], env, work)
    incremental_s = time.perf_counter() - began
    dbt(
        [
            "run",
            "--full-refresh",
            "--select",
            "int_user_turns_counted",
            "int_trajectory_views_embedded",
        ],
        env,
        work,
    )
    full_embed_s = time.perf_counter() - began - incremental_s
    results["incremental"] = {
        "new_share": 0.01,
        "incremental_s": incremental_s,
        "full_s": full_embed_s,
    }
    print(
        "1% new traffic:",
        f"incremental {incremental_s:.1f} s vs full {full_embed_s:.1f} s",
        "(dbt run of the two embedding models)",
    )

    results["clustering"] = cluster_100k(str(warehouse), args.cluster_vectors)
    print("clustering:", json.dumps(results["clustering"]))
    results["quality"] = topic_quality(work, args.topic_conversations)
    print("topic corpus quality:", json.dumps(results["quality"]))
    (work / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
