"""The whole pipeline on DuckDB: generate, ingest, dbt build, at each size.

Each step runs in its own child process, which reports its wall time
(Python's imports included, as for a `trellis` command) and peak RSS (its
own, plus that of the processes it waited for, e.g. dbt), so one step's
memory is never charged to another. `ingest` loads the request files (rows/s
is requests/s), `ingest-fb` the feedback file.

    python bench/bench_pipeline.py                      # 100k and 1M requests
    python bench/bench_pipeline.py --sizes 20000        # a quick look

Before each step the files the last one wrote are flushed to disk (sync):
the kernel otherwise writes them back while the next step runs (measured:
the 240 MB of 100k generated requests made their ingest some 0.1 s slower).

`cpu s` is the step's CPU time (user + system, its own and its children's):
on a shared 2-core machine it varies less than the wall time, and ingest is
CPU-bound (two busy processes). The first lines rate the machine itself, so
figures taken on different days can be compared: a pure-Python loop, a
memory copy and the cost of a fresh page (first touch), which every large
buffer pays.
"""

from __future__ import annotations

import argparse
import compileall
import json
import mmap
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]

# Runs inside the child: one step, then its figures as one JSON line.
_STEP = r"""
import json, resource, sys, time
from pathlib import Path
step, out, db, size = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
began = time.perf_counter()
rows = size
if step == "generate":
    from trellis_demo.generate import generate
    generate(out, size, seed=1)
elif step in ("ingest", "ingest-fb"):
    from trellis.ingest import ingest_files
    from trellis.storage import open_store
    kind = "requests" if step == "ingest" else "feedback"
    with open_store("duckdb") as store:
        report = ingest_files(store, kind, sorted((out / kind).iterdir()))
    rows = report.loaded + report.duplicates + report.total_quarantined
elif step == "build":
    from trellis.services.warehouse import run_dbt
    run_dbt(["build"], "duckdb", echo=False)
seconds = time.perf_counter() - began
usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
cpu = sum(used.ru_utime + used.ru_stime for used in usage)
peak_kib = max(used.ru_maxrss for used in usage)
text_mib = 0.0  # text read by an ingest (gzip files uncompressed), for MiB/s
if step in ("ingest", "ingest-fb"):
    import gzip
    for path in (out / kind).iterdir():
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as stream:
            while block := stream.read(1 << 24):
                text_mib += len(block) / 2**20
print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": rows, "peak_mib": peak_kib / 1024,
                  "text_mib": text_mib}))
"""


def machine_figures() -> str:
    """How fast this machine is today: Python, memory copies, fresh pages."""
    began = time.perf_counter()
    total = 0
    for number in range(5_000_000):
        total += number
    loop = time.perf_counter() - began
    source = bytearray(64 * 2**20)
    target = bytearray(len(source))
    target[:] = source  # both touched once
    began = time.perf_counter()
    for _ in range(5):
        target[:] = source
    copy = 5 * len(source) / 2**30 / (time.perf_counter() - began)
    pages = 64 * 2**20 // 4096
    began = time.perf_counter()
    for _ in range(4):
        with mmap.mmap(-1, pages * 4096) as fresh:
            for page in range(pages):
                fresh[page * 4096] = 1
    fault = (time.perf_counter() - began) / (4 * pages) * 1e6
    return (
        f"machine: Python loop {loop / 5e6 * 1e9:.0f} ns an iteration, memory copy "
        f"{copy:.1f} GiB/s, fresh page {fault:.2f} us (first touch, Python loop included)"
    )


def run_step(step: str, out: Path, db: Path, size: int) -> dict[str, float]:
    env = {**os.environ, "TRELLIS_DUCKDB_PATH": str(db), "DBT_PROFILES_DIR": str(PROJECT)}
    result = subprocess.run(
        [sys.executable, "-c", _STEP, step, str(out), str(db), str(size)],
        env=env,
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    if result.returncode != 0:
        raise SystemExit(f"{step} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    # the package's bytecode, as an installed one has it (`make install` writes it too):
    # with PYTHONDONTWRITEBYTECODE set, each step would compile trellis' modules again
    compileall.compile_dir(PROJECT / "python", quiet=1)
    print(machine_figures())
    print(
        f"{'requests':>10} {'step':<9} {'seconds':>9} {'rows/s':>10} {'cpu s':>7}"
        f" {'peak MiB':>9} {'MiB/s in':>9}"
    )
    for size in args.sizes:
        with tempfile.TemporaryDirectory(prefix="trellis-bench-") as folder:
            out, db = Path(folder) / "traffic", Path(folder) / "warehouse.duckdb"
            for step in ("generate", "ingest", "ingest-fb", "build"):
                os.sync()  # what the last step wrote goes to disk on its time, not this one's
                figures = run_step(step, out, db, size)
                rate = figures["rows"] / figures["seconds"]
                text = figures["text_mib"] / figures["seconds"] if figures["text_mib"] else 0
                print(
                    f"{size:>10,} {step:<9} {figures['seconds']:>9.1f} {rate:>10,.0f} "
                    f"{figures['cpu']:>7.1f} {figures['peak_mib']:>9.0f} "
                    f"{f'{text:,.0f}' if text else '':>9}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
