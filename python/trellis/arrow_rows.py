"""Rows of Arrow tables picked by position without copying them; the Arrow types trellis shares."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = ["UTC_TIMESTAMP", "fixed_width_strings", "pick"]

#: The Arrow type of every timestamp trellis reads or writes (timestamptz).
UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")

_Picked = TypeVar("_Picked", pa.Table, pa.ChunkedArray)


def pick(values: _Picked, positions: Sequence[int] | npt.NDArray[np.integer[Any]]) -> _Picked:
    """The rows of `values` at `positions` (ascending), as zero-copy slices of it.

    Positions come in long runs (the lines a check let through, the rows not
    yet stored): `take` or `filter` would copy every record's text, and
    `take` concatenates the chunks first. The runs are found with NumPy, so
    Python loops over runs, not rows.
    """
    at = np.asarray(positions, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(at) != 1) + 1
    starts = np.concatenate(([0], breaks)).tolist() if len(at) else []
    ends = np.concatenate((breaks, [len(at)])).tolist() if len(at) else []
    firsts = at[starts].tolist()
    slices = [
        values.slice(first, end - start)
        for first, start, end in zip(firsts, starts, ends, strict=True)
    ]
    if isinstance(values, pa.Table):
        return pa.concat_tables(slices) if slices else values.slice(0, 0)
    return pa.chunked_array([piece for part in slices for piece in part.chunks], values.type)


def fixed_width_strings(data: bytes, width: int) -> pa.Array:
    """`data`, strings of `width` bytes one after the other, as a string array (no copy)."""
    offsets = np.arange(0, len(data) + 1, width, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), len(data) // width, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
