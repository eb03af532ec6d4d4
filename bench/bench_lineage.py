"""Lineage build benchmark: depth, incremental appends, DuckDB vs PostgreSQL.

Workloads of N nodes are synthesized straight into raw.requests by SQL (the
bench times dbt, not the generator): `chats` are 10-turn conversations,
`loops` 500-turn agent loops, both linked by explicit parent ids with one
short message per request, so both workloads carry the same data volume and
only the tree shape differs. For each workload the bench prints every lineage
model's build time (from dbt's run_results.json) and the tree models' total.

    python bench/bench_lineage.py --nodes 1000000            # DuckDB, both shapes
    python bench/bench_lineage.py --nodes 1000000 --postgres  # also PostgreSQL
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import duckdb
import psycopg

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "python"))

from trellis.storage.schema import raw_ddl  # noqa: E402

#: The models that walk or shape the tree (not the per-message hashing).
TREE_MODELS = (
    "int_request_parents_resolved",
    "int_branch_edges_jumped",
    "int_branch_nodes_rooted",
    "int_branch_nodes_grouped",
    "int_branch_nodes_classified",
    "int_trajectory_steps_enumerated",
    "conversation_branch_nodes",
    "response_branch_records",
    "conversation_sessions",
    "trajectory_units",
    "execution_run_records",
)

_RECORD = """
    {obj}(
        'request_id', 'r' || {i}, 'tenant_id', 't' || (({i} / {depth}) % 3),
        'created_at', {ts},
        'parent_request_id', case when {i} % {depth} = 0 then null else 'r' || ({i} - 1) end,
        'agent_id', 'agent' || ({i} % 4), 'model', 'gpt-4o-mini',
        'request', {obj}('messages', {arr}({obj}('role', 'user', 'content', 'u' || {i}))),
        'response', {obj}('id', 'x', 'choices', {arr}({obj}(
            'message', {obj}('role', 'assistant', 'content', 'a' || {i}), 'finish_reason', 'stop')),
            'usage', {obj}('prompt_tokens', 12, 'completion_tokens', 4)))
"""


def synthesize_duckdb(path: Path, start: int, count: int, depth: int) -> None:
    con = duckdb.connect(str(path))
    for statement in raw_ddl("duckdb"):
        con.execute(statement)
    ts = "strftime(timestamptz '2026-01-01' + to_seconds(i), '%Y-%m-%dT%H:%M:%SZ')"
    record = _RECORD.format(obj="json_object", arr="json_array", i="i", depth=depth, ts=ts)
    con.execute(
        f"""insert into raw.requests
        select 'r' || i, 't' || ((i // {depth}) % 3), timestamptz '2026-01-01' + to_seconds(i),
               md5(cast(i as varchar)), {record}, 'bench', i, now()
        from range({start}, {start + count}) as t(i)"""
    )
    con.close()


def synthesize_histories_duckdb(path: Path, start: int, count: int, depth: int) -> None:
    """Chats as most gateways log them: full message history, no parent ids,
    so lineage comes from content alone (the realistic incremental case)."""
    con = duckdb.connect(str(path))
    for statement in raw_ddl("duckdb"):
        con.execute(statement)
    con.execute(
        f"""insert into raw.requests
        with turns as (
            select i, i // {depth} as conv, i % {depth} as turn
            from range({start}, {start + count}) as t(i)
        ),
        contexts as (
            select i, conv, turn, list_concat(
                [json_object('role', 'system', 'content', 'You are agent ' || (conv % 7))],
                flatten(list_transform(range(turn), lambda k: [
                    json_object('role', 'user', 'content', 'q' || conv || '-' || k),
                    json_object('role', 'assistant', 'content', 'a' || conv || '-' || k)])),
                [json_object('role', 'user', 'content', 'q' || conv || '-' || turn)]
            ) as messages
            from turns
        )
        select 'r' || i, 't' || (conv % 3), timestamptz '2026-01-01' + to_seconds(i),
            md5(cast(i as varchar)),
            json_object(
                'request_id', 'r' || i, 'tenant_id', 't' || (conv % 3),
                'created_at',
                strftime(timestamptz '2026-01-01' + to_seconds(i), '%Y-%m-%dT%H:%M:%SZ'),
                'agent_id', 'agent' || (conv % 4), 'model', 'gpt-4o-mini',
                'request', json_object('messages', cast(messages as json[])),
                'response', json_object('id', 'x', 'choices', [json_object(
                    'message',
                    json_object('role', 'assistant', 'content', 'a' || conv || '-' || turn),
                    'finish_reason', 'stop')],
                    'usage', json_object('prompt_tokens', 10 * turn, 'completion_tokens', 5))),
            'bench', i, now()
        from contexts"""
    )
    con.close()


def bench_incremental_histories(nodes: int, work: Path) -> None:
    path = work / "histories.duckdb"
    synthesize_histories_duckdb(path, 0, nodes, 10)
    env = {"TRELLIS_DUCKDB_PATH": str(path)}
    wall, timings = dbt_build("duckdb", env, work / "target-histories")
    report(f"DuckDB 10-turn chats with full histories (content lineage), {nodes:,}", wall, timings)
    full = sum(timings.values())
    # A rebuild with nothing new costs dbt's fixed per-model work (temp relations,
    # schema checks, watermark queries): the floor of any incremental run.
    wall, timings = dbt_build("duckdb", env, work / "target-histories")
    noop = sum(timings.values())
    print(f"\n    rebuild with no new data: dbt wall {wall:.1f}s, models {noop:.1f}s")
    synthesize_histories_duckdb(path, nodes, nodes // 100, 10)
    wall, timings = dbt_build("duckdb", env, work / "target-histories")
    report("    +1% appended, rebuild", wall, timings)
    incremental = sum(timings.values())
    print(f"    incremental / full (model time): {incremental / full:.1%}")
    print(f"    (incremental - no-op) / full: {(incremental - noop) / full:.1%}")


def synthesize_postgres(conninfo: str, start: int, count: int, depth: int) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement in raw_ddl("postgres"):
            conn.execute(statement)
        ts = (
            "to_char(timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second', "
            '\'YYYY-MM-DD"T"HH24:MI:SS"Z"\')'
        )
        record = _RECORD.format(
            obj="jsonb_build_object", arr="jsonb_build_array", i="i", depth=depth, ts=ts
        )
        conn.execute(
            f"""insert into raw.requests
            select 'r' || i, 't' || ((i / {depth}) % 3),
                   timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
                   md5(i::text), {record}, 'bench', i, clock_timestamp()
            from generate_series({start}, {start + count - 1}) as t(i)"""
        )


def dbt_build(
    target: str, env: dict[str, str], target_path: Path
) -> tuple[float, dict[str, float]]:
    began = time.perf_counter()
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "run",
            "--select",
            "tag:lineage",
            "--target",
            target,
            "--threads",
            "1",
            "--target-path",
            str(target_path),
        ],
        cwd=PROJECT,
        env={
            **os.environ,
            **env,
            "DBT_PROFILES_DIR": str(PROJECT),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        },
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - began
    if result.returncode != 0:
        raise SystemExit(f"dbt failed:\n{result.stdout[-3000:]}")
    results = json.loads((target_path / "run_results.json").read_text())["results"]
    timings = {r["unique_id"].split(".")[-1]: float(r["execution_time"]) for r in results}
    return wall, timings


def report(label: str, wall: float, timings: dict[str, float]) -> float:
    tree = sum(timings.get(model, 0.0) for model in TREE_MODELS)
    models = sum(timings.values())
    print(f"\n{label}: dbt wall {wall:.1f}s, models {models:.1f}s, tree models {tree:.1f}s")
    for model, seconds in sorted(timings.items(), key=lambda item: -item[1]):
        print(f"    {model:<40} {seconds:7.2f}s")
    return tree


def bench_duckdb(nodes: int, work: Path) -> None:
    trees: dict[str, float] = {}
    for name, depth in (("chats (10-turn)", 10), ("loops (500-turn)", 500)):
        path = work / f"{depth}.duckdb"
        synthesize_duckdb(path, 0, nodes, depth)
        env = {"TRELLIS_DUCKDB_PATH": str(path)}
        wall, timings = dbt_build("duckdb", env, work / f"target-{depth}")
        trees[name] = report(f"DuckDB {name}, {nodes:,} nodes, full build", wall, timings)
        models_full = sum(timings.values())
        # Append 1% new requests (continuing the existing trees and new ones) and rebuild.
        synthesize_duckdb(path, nodes, nodes // 100, depth)
        wall, timings = dbt_build("duckdb", env, work / f"target-{depth}")
        models_incremental = sum(timings.values())
        report(f"DuckDB {name}, +1% appended, rebuild", wall, timings)
        print(f"    incremental / full (model time): {models_incremental / models_full:.1%}")
    chats, loops = trees["chats (10-turn)"], trees["loops (500-turn)"]
    print(f"\ntree models, loops / chats at equal node count: {loops / chats:.2f}x")


def bench_postgres(nodes: int, work: Path) -> None:
    base = {
        "PGHOST": os.environ.get("PGHOST", "127.0.0.1"),
        "PGPORT": os.environ.get("PGPORT", "5432"),
        "PGUSER": os.environ.get("PGUSER", "postgres"),
        "PGPASSWORD": os.environ.get("PGPASSWORD", ""),
    }
    admin = f"host={base['PGHOST']} port={base['PGPORT']} user={base['PGUSER']} dbname=postgres"
    name = f"trellis_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        synthesize_postgres(admin.replace("dbname=postgres", f"dbname={name}"), 0, nodes, 10)
        wall, timings = dbt_build("postgres", {**base, "PGDATABASE": name}, work / "target-pg")
        report(f"PostgreSQL chats (10-turn), {nodes:,} nodes, full build", wall, timings)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres", action="store_true", help="also build on PostgreSQL (PG* variables)"
    )
    parser.add_argument("--skip-duckdb", action="store_true", help="only the PostgreSQL build")
    parser.add_argument(
        "--histories", action="store_true", help="also chats with full histories (content lineage)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="trellis-bench-") as folder:
        work = Path(folder)
        if not args.skip_duckdb:
            bench_duckdb(args.nodes, work)
        if args.histories:
            bench_incremental_histories(args.nodes, work)
        if args.postgres:
            bench_postgres(args.nodes, work)


if __name__ == "__main__":
    main()
