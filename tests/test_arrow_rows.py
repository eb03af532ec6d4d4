"""arrow_rows.pick: rows by position as zero-copy slices."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa

from trellis.arrow_rows import pick


def test_pick_gives_the_rows_at_the_positions_of_a_table_or_chunked_array() -> None:
    rng = random.Random(3)
    table = pa.table({"n": pa.chunked_array([list(range(7)), list(range(7, 40))])})
    for _ in range(200):
        positions = sorted(rng.sample(range(40), rng.randint(0, 40)))
        for given in (positions, np.array(positions, np.int64)):
            assert pick(table, given).column("n").to_pylist() == positions
            assert pick(table.column("n"), given).to_pylist() == positions


def test_pick_copies_no_text() -> None:
    texts = pa.array(["x" * 100] * 10, pa.large_string())
    data = texts.buffers()[2]
    picked = pick(pa.chunked_array([texts]), [1, 2, 3, 7, 8])
    assert all(chunk.buffers()[2].address == data.address for chunk in picked.chunks)
    assert len(picked.chunks) == 2  # one slice a run
