"""Ingest throughput and peak memory into a fresh DuckDB file.

    python bench/bench_ingest.py --records 100000          # synthetic contract records
    python bench/bench_ingest.py --input DIR               # every *.jsonl[.gz] / *.parquet in DIR
    python bench/bench_ingest.py --records 100000 --target postgres   # PG* must point at a db
    python bench/bench_ingest.py --input DIR --stages      # CPU per line of each checking step

The ingest runs in a child process so its peak RSS (ru_maxrss) is measured
alone, without the generator's memory. Target: >= 30k requests/s, peak RSS
< 1 GiB whatever the file size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_SENTENCE = "the model answers questions about invoices, shipping, refunds and code reviews"
_WORDS = _SENTENCE.replace(",", "").split(" ")


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def synthetic_request(index: int, rng: random.Random) -> dict[str, Any]:
    """A valid request record of realistic size (about 2 KB)."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a support agent."}]
    for _ in range(rng.randint(1, 5)):
        messages.append({"role": "user", "content": _text(rng, rng.randint(5, 40))})
        messages.append({"role": "assistant", "content": _text(rng, rng.randint(10, 60))})
    messages.append({"role": "user", "content": _text(rng, rng.randint(5, 30))})
    second = index % 60
    return {
        "request_id": f"req-{index:010d}",
        "created_at": f"2026-03-01T12:{second // 10:02d}:{second:02d}.{index % 1000:03d}Z",
        "completed_at": "2026-03-01T12:59:59Z",
        "tenant_id": f"tenant-{index % 7}",
        "agent_id": "ide-agent",
        "session_id": f"sess-{index // 12}",
        "model": "gpt-4o",
        "served_model": "gpt-4o-2024-08-06",
        "provider": "openai",
        "request": {"messages": messages, "temperature": 0.7, "max_tokens": 512},
        "response": {
            "id": f"cmpl-{index}",
            "choices": [
                {
                    "message": {"role": "assistant", "content": _text(rng, 40)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": rng.randint(50, 3000),
                "completion_tokens": rng.randint(5, 500),
                "prompt_tokens_details": {"cached_tokens": 0},
            },
        },
        "status": "success",
        "latency_ms": rng.randint(100, 9000),
        "ttft_ms": rng.randint(20, 900),
        "cost_usd": round(rng.random() / 100, 6),
        "metadata": {"bench": True},
    }


def write_synthetic(folder: Path, records: int, per_file: int) -> list[Path]:
    rng = random.Random(7)
    paths: list[Path] = []
    for start in range(0, records, per_file):
        path = folder / f"requests-{start // per_file:04d}.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for index in range(start, min(records, start + per_file)):
                out.write(json.dumps(synthetic_request(index, rng)) + "\n")
        paths.append(path)
    return paths


def input_files(folder: Path) -> list[Path]:
    patterns = ("requests*.jsonl", "requests*.jsonl.gz", "requests*.parquet")
    found = sorted({p for pattern in patterns for p in folder.glob(pattern)})
    return found or sorted(folder.glob("*.jsonl"))


def child(target: str, paths: list[str]) -> None:
    """Runs in the measured process: one ingest call, a JSON line of results."""
    from trellis.ingest import ingest_files
    from trellis.storage import open_store

    start = time.perf_counter()
    with open_store(target) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [Path(p) for p in paths])
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "loaded": report.loaded,
                "duplicates": report.duplicates,
                "quarantined": report.total_quarantined,
            }
        )
    )


def stages(paths: list[Path], sample: int) -> None:
    """CPU per line of each step the checking thread must take, one step at a time
    on the same lines (each value freed at once, as in the ingest): what bounds the
    rate of the one thread that holds Python's lock."""
    import msgspec
    import xxhash

    from trellis.ingest import contract
    from trellis.ingest.read import file_lines
    from trellis.ingest.validate import Valid, _decode_value, _encode_canonical, check

    lines = [line.raw for path in paths for line in file_lines(path)]
    valid = [raw for raw in lines if isinstance(check("requests", raw), Valid)]
    picked = random.Random(1).sample(valid, min(sample, len(valid)))
    typed = msgspec.json.Decoder(contract.RequestRecord).decode

    def each(step: Callable[[bytes], object]) -> Callable[[], None]:
        def run() -> None:
            for raw in picked:
                step(raw)

        return run

    def reading() -> None:
        for path in paths:
            for _ in file_lines(path):
                pass

    steps: dict[str, Callable[[], None]] = {
        "read (file_lines)": reading,
        "msgspec parse to Python objects": each(_decode_value),
        "  + canonical encoding": each(lambda raw: _encode_canonical(_decode_value(raw))),
        "  + Struct check (msgspec.convert)": each(
            lambda raw: msgspec.convert(_decode_value(raw), contract.RequestRecord)
        ),
        "typed decode straight into the Structs": each(typed),
        "xxh3-128 of the raw line": each(xxhash.xxh3_128_hexdigest),
        "the whole check (validate.check)": each(lambda raw: check("requests", raw)),
    }
    size = sum(map(len, picked)) / len(picked)
    print(f"{len(picked):,} valid lines of {len(lines):,}, {size:,.0f} bytes a line on average")
    for name, step in steps.items():
        count = len(lines) if name.startswith("read") else len(picked)
        began = time.thread_time()
        step()
        print(f"  {name:<42} {(time.thread_time() - began) / count * 1e6:7.1f} us a line")
    loop_began = time.perf_counter()
    total = 0
    for number in range(5_000_000):
        total += number
    loop_ns = (time.perf_counter() - loop_began) / 5_000_000 * 1e9
    print(f"  (this machine: a Python loop iteration {loop_ns:.0f} ns)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--per-file", type=int, default=250_000)
    parser.add_argument("--input", type=Path, help="folder of JSONL/Parquet request files")
    parser.add_argument("--target", choices=("duckdb", "postgres"), default="duckdb")
    parser.add_argument("--repeat", action="store_true", help="ingest twice (all duplicates)")
    parser.add_argument(
        "--stages", action="store_true", help="CPU per line of each checking step (--input)"
    )
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.target, args.child)
        return
    if args.stages:
        if not args.input:
            sys.exit("--stages needs --input DIR")
        stages(input_files(args.input), 20_000)
        return

    with tempfile.TemporaryDirectory(prefix="trellis-bench-") as tmp:
        folder = Path(tmp)
        if args.input:
            paths = input_files(args.input)
        else:
            started = time.perf_counter()
            paths = write_synthetic(folder, args.records, args.per_file)
            print(f"generated {args.records:,} records in {time.perf_counter() - started:.1f}s")
        size = sum(p.stat().st_size for p in paths)
        env = {**os.environ, "TRELLIS_DUCKDB_PATH": str(folder / "bench.duckdb")}
        command = [sys.executable, __file__, "--target", args.target, "--child"]
        runs = 2 if args.repeat else 1
        for run in range(1, runs + 1):
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
            started = time.perf_counter()
            out = subprocess.run(
                [*command, *map(str, paths)], env=env, capture_output=True, text=True
            )
            if out.returncode != 0:
                sys.exit(f"ingest failed:\n{out.stderr[-3000:]}")
            wall = time.perf_counter() - started
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            rss_kib, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime - cpu_before
            result = json.loads(out.stdout.strip().splitlines()[-1])
            rows = result["loaded"] + result["duplicates"] + result["quarantined"]
            note = "" if rss_kib > before else " (peak of an earlier run)"
            print(
                f"run {run}: {len(paths)} file(s), {size / 2**20:,.0f} MiB, {rows:,} records "
                f"({result['loaded']:,} loaded, {result['duplicates']:,} duplicates, "
                f"{result['quarantined']:,} quarantined)\n"
                f"  ingest {result['seconds']:.2f}s -> {rows / result['seconds']:,.0f} records/s"
                f" ({size / 2**20 / result['seconds']:,.0f} MiB/s); process wall {wall:.2f}s;"
                f" peak RSS {rss_kib / 1024:,.0f} MiB{note}\n"
                f"  CPU {cpu:.2f}s ({cpu / rows * 1e6:.0f} us/record);"
                f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
            )


if __name__ == "__main__":
    main()
