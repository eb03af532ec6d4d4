"""Live ingest from NATS JetStream, end to end: publish, follow, commit, ack.

    python bench/bench_follow.py --messages 50000          # NATS_URL, else nats://127.0.0.1:4222

Publishes synthetic contract request records (about 2 KB, full message
lists: bench_ingest.synthetic_request) to a fresh stream, then times
`Follower` (trellis ingest follow) into a fresh DuckDB file until the stream
is drained. Target: >= 10k messages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nats

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import synthetic_request


async def publish(url: str, stream: str, subject: str, count: int) -> float:
    rng = random.Random(7)
    payloads = [json.dumps(synthetic_request(index, rng)).encode() for index in range(count)]
    connection = await nats.connect(url)
    jetstream = connection.jetstream()
    await jetstream.add_stream(name=stream, subjects=[subject])
    started = time.perf_counter()
    window = 1000
    for start in range(0, count, window):
        await asyncio.gather(
            *(jetstream.publish(subject, payload) for payload in payloads[start : start + window])
        )
    elapsed = time.perf_counter() - started
    await connection.close()
    return elapsed


async def cleanup(url: str, stream: str) -> None:
    connection = await nats.connect(url)
    await connection.jetstream().delete_stream(stream)
    await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--url", default=os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    args = parser.parse_args()
    stream = f"BENCH_{uuid.uuid4().hex[:8]}"
    subject = f"bench.{stream.lower()}"
    published = asyncio.run(publish(args.url, stream, subject, args.messages))
    print(f"published {args.messages:,} messages in {published:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TRELLIS_DUCKDB_PATH"] = str(Path(tmp) / "bench.duckdb")
        from trellis.services.follow import Follower, FollowOptions
        from trellis.storage import open_store

        options = FollowOptions(
            args.url, stream, subject, batch=args.batch, idle_exit=0.5, fetch_wait=0.2
        )
        try:
            with open_store("duckdb") as store:
                started, cpu = time.perf_counter(), time.process_time()
                progress = asyncio.run(Follower(store, options).run())
                elapsed = time.perf_counter() - started - (options.idle_exit or 0)
                cpu = time.process_time() - cpu
        finally:
            asyncio.run(cleanup(args.url, stream))
    report = progress.report
    print(
        f"followed {progress.messages:,} messages in {elapsed:.2f} s "
        f"(without the final idle wait): {progress.messages / elapsed:,.0f} messages/s; "
        f"loaded {report.loaded:,}, duplicates {report.duplicates:,}, "
        f"quarantined {report.total_quarantined:,}; "
        f"{cpu / progress.messages * 1e6:,.0f} us CPU a message (all threads); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
