"""Output files written in time order without holding every line in memory.

Lines are appended to a spool file as conversations finish (conversations
overlap in time, so they arrive out of order); only (sort key, offset,
length) stays in memory. `finish` writes the lines sorted and drops the
spool. A million requests need about 100 MB of index instead of gigabytes
of text.
"""

from __future__ import annotations

import gzip
import mmap
from pathlib import Path
from typing import BinaryIO

_CHUNK = 1 << 20


class SpoolFile:
    """One output file: lines in, sorted by (created_ms, arrival) on finish."""

    def __init__(self, path: Path, *, newest_first: bool = False) -> None:
        self.path = path
        self.name = path.name
        self.newest_first = newest_first
        self._spool = path.with_name(f".{path.name}.spool")
        self._handle = self._spool.open("wb", buffering=_CHUNK)
        self._index: list[tuple[int, int, int, int]] = []
        self._offset = 0

    def __len__(self) -> int:
        return len(self._index)

    def add(self, created_ms: int, seq: int, text: str) -> None:
        data = text.encode() + b"\n"
        key = -created_ms if self.newest_first else created_ms
        self._index.append((key, seq, self._offset, len(data)))
        self._handle.write(data)
        self._offset += len(data)

    def finish(self) -> int:
        """Write the sorted file (gzip without name or time when it ends in .gz,
        so the bytes are reproducible); return its size."""
        self._handle.close()
        self._index.sort()
        with self.path.open("wb") as raw:
            sink: BinaryIO | gzip.GzipFile = raw
            if self.path.name.endswith(".gz"):
                sink = gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1, mtime=0)
            if self._offset:
                with (
                    self._spool.open("rb") as spool,
                    mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ) as lines,
                ):
                    chunk: list[bytes] = []
                    size = 0
                    for _key, _seq, offset, length in self._index:
                        chunk.append(lines[offset : offset + length])
                        size += length
                        if size >= _CHUNK:
                            sink.write(b"".join(chunk))
                            chunk, size = [], 0
                    sink.write(b"".join(chunk))
            if sink is not raw:
                sink.close()
        self._spool.unlink()
        self._index = []
        return self.path.stat().st_size
