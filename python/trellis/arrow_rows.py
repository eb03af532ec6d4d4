"""Rows of Arrow tables picked by position without copying them; the Arrow types trellis shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import pyarrow as pa

__all__ = ["UTC_TIMESTAMP", "pick"]

#: The Arrow type of every timestamp trellis reads or writes (timestamptz).
UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")

_Picked = TypeVar("_Picked", pa.Table, pa.ChunkedArray)


def pick(values: _Picked, positions: Sequence[int]) -> _Picked:
    """The rows of `values` at `positions` (ascending), as zero-copy slices of it.

    Positions come in long runs (the lines a check let through, the rows not
    yet stored): `take` or `filter` would copy every record's text, and
    `take` concatenates the chunks first.
    """
    slices = []
    start = 0
    for end in range(1, len(positions) + 1):
        if end == len(positions) or positions[end] != positions[end - 1] + 1:
            slices.append(values.slice(positions[start], end - start))
            start = end
    if isinstance(values, pa.Table):
        return pa.concat_tables(slices) if slices else values.slice(0, 0)
    return pa.chunked_array([piece for part in slices for piece in part.chunks], values.type)
