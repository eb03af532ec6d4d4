"""Freeze benchmark: `trellis freeze` of N rows against DuckDB's own COPY to Parquet.

A synthetic SFT dataset (example id, tenant scope, a chat of 4 messages as
JSON, some 600 bytes a row) is made in a fresh DuckDB file; the bench then
times (1) DuckDB alone copying the rows to a zstd Parquet file, and (2) a
full freeze of the same relation (content fingerprint, the Parquet file, the
Iceberg commit, the registry row), and (3) a second freeze of the unchanged
relation (the no-op). The target: (2) within 2x of (1).

    python bench/bench_freeze.py --rows 1000000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "python"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-freeze-") as work:
        os.environ["TRELLIS_DUCKDB_PATH"] = str(Path(work) / "warehouse.duckdb")
        os.environ["TRELLIS_FROZEN_DIR"] = str(Path(work) / "frozen")
        from trellis.datasets.freeze import freeze
        from trellis.storage.duckdb_store import connect_duckdb

        con = connect_duckdb(os.environ["TRELLIS_DUCKDB_PATH"])
        con.execute("create schema datasets")
        con.execute(
            """
            create table datasets.sft_bench as
            select
                'ex-' || lpad(i::varchar, 9, '0') as example_id,
                case when i % 3 = 0 then 'global' else 'tenant-' || (i % 7) end as tenant_scope,
                to_json([
                    {'role': 'system', 'content': 'You are a helpful support agent for ACME.'},
                    {'role': 'user', 'content': 'Order ' || i || ' has not arrived; it was due '
                        || (i % 28 + 1) || ' days ago. Can you check the carrier status?'},
                    {'role': 'assistant', 'content': 'I checked order ' || i
                        || ': the carrier scanned it yesterday and expects delivery within '
                        || (i % 3 + 1) || ' days. I will follow up if it slips.'},
                    {'role': 'user', 'content': 'Thanks, please keep me posted ' || md5(i::varchar)}
                ])::varchar as messages,
                'trajectory-' || (i // 3) as trajectory_id
            from range(?) t(i)
            """,
            [args.rows],
        )
        size = con.execute(
            "select sum(length(messages) + length(example_id) + 30) from datasets.sft_bench"
        ).fetchone()
        con.close()
        print(f"dataset: {args.rows} rows, about {(size[0] or 0) / 1e6:.0f} MB of text")

        con = connect_duckdb(os.environ["TRELLIS_DUCKDB_PATH"])
        start = time.perf_counter()
        con.execute(
            f"copy (select * from datasets.sft_bench) to '{work}/plain.parquet'"
            " (format parquet, compression zstd)"
        )
        copy_s = time.perf_counter() - start
        con.close()
        print(f"DuckDB COPY to Parquet:   {copy_s:6.2f} s")

        start = time.perf_counter()
        result = freeze("sft_bench")
        freeze_s = time.perf_counter() - start
        print(
            f"trellis freeze:           {freeze_s:6.2f} s  ({freeze_s / copy_s:.2f}x COPY;"
            f" {result.snapshot.bytes / 1e6:.0f} MB Parquet)"
        )
        start = time.perf_counter()
        again = freeze("sft_bench")
        noop_s = time.perf_counter() - start
        assert again.unchanged
        print(f"freeze again, unchanged:  {noop_s:6.2f} s  (no-op)")


if __name__ == "__main__":
    main()
