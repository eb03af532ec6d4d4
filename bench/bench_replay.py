"""Replay throughput against the local OpenAI-compatible test server.

Targets (issue #5): with no server latency one runner process completes at
least 500 replays/s; with 100 ms latency and concurrency 64 it reaches at
least 90% of the 640/s the server allows. The sequential rate (one call at a
time) is printed for comparison.

A replay here is the whole thing: claim from the job log, call, build the
contract record, ingest it into raw.requests (DuckDB), mark the task done.
The server runs in its own process; planning and writing the job log ahead
are timed separately.

    python bench/bench_replay.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from tests.replay_world import load, many_roots  # noqa: E402

from trellis.runners.kit.cohort import enqueue, work  # noqa: E402
from trellis.runners.replay.executor import ReplayExecutor  # noqa: E402
from trellis.runners.replay.manifest import parse_manifest  # noqa: E402
from trellis.runners.replay.service import plan  # noqa: E402
from trellis.storage import open_store  # noqa: E402


@contextmanager
def server(latency_ms: float) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.openai_server", "--latency-ms", str(latency_ms)],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().split()[1])
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.kill()
        process.wait()


def scenario(name: str, nodes: int, latency_ms: float, concurrency: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="trellis-bench-") as folder:
        os.environ["TRELLIS_DUCKDB_PATH"] = str(Path(folder) / "bench.duckdb")
        with open_store("duckdb") as store, server(latency_ms) as base_url:
            load(store, many_roots(nodes))
            raw = {
                "name": name,
                "nodes": {"where": {"agent_id": "ide"}},
                "variants": [{"name": "v", "model": "gpt-4o-mini", "sampling": {"temperature": 0}}],
                "endpoints": {"default": {"base_url": base_url}},
                "run": {"concurrency": concurrency, "timeout_s": 30},
            }
            manifest = parse_manifest(raw)
            started = time.perf_counter()
            the_plan = plan(store, manifest, raw)
            enqueue(store, the_plan)
            planned = time.perf_counter() - started
            endpoints = {"gpt-4o-mini": manifest.endpoint_for("gpt-4o-mini")}
            started = time.perf_counter()
            summary = work(
                store, the_plan.cohort_id, ReplayExecutor(endpoints), endpoints, manifest.run
            )
            seconds = time.perf_counter() - started
            stored = store.query("select count(*) from raw.requests")[0][0] - nodes
    assert summary.done == nodes and summary.failed == 0 and stored == nodes, summary
    return {
        "scenario": name,
        "replays": nodes,
        "latency_ms": latency_ms,
        "concurrency": concurrency,
        "plan_and_enqueue_s": round(planned, 2),
        "run_s": round(seconds, 2),
        "replays_per_s": round(nodes / seconds, 1),
    }


def bare_client_rate(latency_ms: float, concurrency: int, calls: int) -> float:
    """The ceiling on this machine: the same lanes and server, no job log, records or ingest."""
    import asyncio

    from trellis.runners.kit.http_client import ChatClient
    from trellis.runners.kit.settings import Endpoint, RunSettings

    body = {"model": "m", "messages": [{"role": "user", "content": "question"}]}

    async def go(base_url: str) -> float:
        async with ChatClient(RunSettings(concurrency=concurrency)) as client:
            endpoint = Endpoint(base_url)
            remaining = [calls]

            async def lane() -> None:
                while remaining[0] > 0:
                    remaining[0] -= 1
                    await client.complete(endpoint, body)

            started = time.perf_counter()
            await asyncio.gather(*(lane() for _ in range(concurrency)))
            return calls / (time.perf_counter() - started)

    with server(latency_ms) as base_url:
        return round(asyncio.run(go(base_url)), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller cohorts")
    args = parser.parse_args()
    scale = 0.3 if args.quick else 1.0
    results = [
        scenario("no latency, concurrency 64", int(6000 * scale), 0, 64),
        scenario("100 ms latency, concurrency 64", int(6400 * scale), 100, 64),
        scenario("sequential, no latency", int(1000 * scale), 0, 1),
    ]
    for result in results:
        print(json.dumps(result))
    ceiling = bare_client_rate(100, 64, int(6400 * scale))
    print(
        json.dumps(
            {"scenario": "bare client calls, 100 ms, concurrency 64", "calls_per_s": ceiling}
        )
    )
    fast, slow, sequential = (r["replays_per_s"] for r in results)
    print(f"no latency: {fast:.0f} replays/s (target >= 500): {'PASS' if fast >= 500 else 'FAIL'}")
    print(
        f"100 ms, concurrency 64: {slow:.0f} replays/s = {slow / 640:.0%} of 640/s "
        f"(target >= 90%): {'PASS' if slow >= 576 else 'FAIL'}"
    )
    print(f"sequential: {sequential:.0f} replays/s")
    print(f"(bare calls without the runner reach {ceiling:.0f}/s on this machine at 100 ms)")


if __name__ == "__main__":
    main()
