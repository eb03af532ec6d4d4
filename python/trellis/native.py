"""The ingest's C extension (trellis._screen: the screen's JSON pass, the line split and
a string hash), or None where it was not built (no C compiler at install: Python does
that work), and the string hash both ways."""

from __future__ import annotations

import itertools
import types

import pyarrow as pa
import xxhash

extension: types.ModuleType | None
try:
    import trellis._screen as extension
except ImportError:
    extension = None

#: Whether strings are hashed in C (trellis._screen.hash_strings, outside Python's
#: lock, some 20 ns a short string) or with xxh3 one string at a time in Python
#: (some 1 us each, the lock held: 90 ms of a 100k-request ingest's line hashes,
#: py-spy --gil). The two hashes differ: a record stored with one and resent
#: hashed with the other is compared by content (see ingest.same_record).
HASH_IN_C = extension is not None


def string_hashes(strings: pa.Array, hex: bool = False) -> bytes:
    """A 128-bit hash of each string of `strings` (a string or large_string array), read
    in place from its Arrow buffers: 16 bytes a string, or with `hex` 32 hex digits."""
    if not len(strings):  # (an empty array may have no offsets buffer)
        return b""
    large = pa.types.is_large_string(strings.type)
    _, offsets_buffer, data_buffer = strings.buffers()
    if HASH_IN_C:
        assert extension is not None
        return extension.hash_strings(
            data_buffer, offsets_buffer, strings.offset, len(strings), large, hex
        )
    raw = memoryview(offsets_buffer)
    offsets = raw.cast("q") if large else raw.cast("i")
    bounds = offsets[strings.offset : strings.offset + len(strings) + 1].tolist()
    data = memoryview(data_buffer) if data_buffer is not None else memoryview(b"")
    digest = xxhash.xxh3_128_digest
    digests = (digest(data[start:end]) for start, end in itertools.pairwise(bounds))
    return b"".join(value.hex().encode() for value in digests) if hex else b"".join(digests)
