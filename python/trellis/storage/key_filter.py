"""A Bloom filter of the keys a session inserted: which new keys surely are not stored yet.

DuckDB checks a primary key cheaply on a plain insert (and fails the
transaction on a clash), while `on conflict do nothing` costs some 6.6 us a
row, and finding stored keys with a join scans the whole key column (some
16-40 ns a stored row, per batch: quadratic over a large ingest). For a
table that was empty when the session began writing to it, the keys it holds
are exactly the ones the session inserted, so a filter of those keys tells
the rows that surely are new (plain insert) from the few that may not be
(`on conflict`). The filter has a fixed size: 8 MB, 3 probes. False positives
(some 1 in 10,000 rows at a million keys, 5 in 100 at ten million) only cost
the slower insert; there are no false negatives.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from trellis.native import string_hashes

__all__ = ["KeyFilter"]

_BITS = 1 << 26
_MASK = np.uint64(_BITS - 1)
_Positions = list[npt.NDArray[np.uint64]]


class KeyFilter:
    """Keys added so far, as 3 bit positions each in a 2^26-bit array."""

    def __init__(self) -> None:
        self._bits = np.zeros(_BITS // 8, np.uint8)

    def may_hold(self, positions: _Positions) -> npt.NDArray[np.bool_]:
        """For each key (its `positions`): False when it surely was never added."""
        held = np.ones(len(positions[0]), np.bool_)
        for position in positions:
            byte = self._bits[position >> np.uint64(3)]
            held &= ((byte >> (position & np.uint64(7)).astype(np.uint8)) & 1).astype(np.bool_)
        return held

    def add(self, positions: _Positions) -> None:
        """Add keys, given by their `positions`.

        The bits are gathered by byte first (sorted, then OR-ed together), so
        each byte is written once: `bits[byte] |= mask` with a byte repeated
        would keep one of its bits, and `np.bitwise_or.at` took 1.5 times as long.
        """
        every = np.sort(np.concatenate(positions))
        if not len(every):
            return
        byte = every >> np.uint64(3)
        masks = np.left_shift(1, (every & np.uint64(7)).astype(np.uint8)).astype(np.uint8)
        firsts = np.flatnonzero(np.concatenate(([True], byte[1:] != byte[:-1])))
        self._bits[byte[firsts]] |= np.bitwise_or.reduceat(masks, firsts)

    @staticmethod
    def positions(keys: pa.Array | pa.ChunkedArray) -> _Positions:
        """The bit positions of `keys` (strings, no nulls): computed once for may_hold and add.

        Each key is hashed where it lies in its Arrow buffer, as UTF-8
        (trellis.native.string_hashes: in C where it is built).
        """
        digests: list[bytes] = []
        if not (pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type)):
            raise TypeError(f"keys must be strings, not {keys.type}")
        for chunk in keys.chunks if isinstance(keys, pa.ChunkedArray) else [keys]:
            digests.append(string_hashes(chunk))
        words = np.frombuffer(b"".join(digests), np.uint64).reshape(-1, 2)
        low, high = words[:, 0], words[:, 1]
        return [low & _MASK, (low >> np.uint64(32)) & _MASK, high & _MASK]
