"""Input files as a stream of Arrow chunks: (source_line, line, is_utf8, record_hash).

Every input format becomes the same thing, lines of JSON text numbered from
1, so one validation path serves JSONL, gzip, Parquet and in-memory records.
Chunks are bounded in bytes, so a file of any size streams in bounded memory.
Line ends are found with memchr (in C without Python's lock, or bytes.find),
the text without its newlines becomes the Arrow buffer in one copy, and Arrow
checks it is UTF-8; Python touches a line only to decode it when a chunk
holds invalid UTF-8 or comes from Parquet (and to hash it without the C
extension).

`record_hash` is a 128-bit hash of the line as stored (UTF-8, without a
trailing carriage return) in 32 hex digits: the C extension's, or xxh3
without it (see trellis.native.string_hashes). The lines the C screen clears get the
fingerprint of their content instead (see screening.is_content_hash); this
one stays on the lines the validation SQL decides.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import decimal
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import numpy
import pyarrow as pa
import pyarrow.compute as pc
from isal import igzip, isal_zlib

from trellis.arrow_rows import fixed_width_strings
from trellis.errors import TrellisError
from trellis.native import extension as _native
from trellis.native import string_hashes

#: Bytes of text per chunk: large enough to amortize DuckDB's per-statement
#: cost (planning the validation SQL takes some 20 ms), small enough that a
#: chunk and its validated copy stay well under the memory budget.
CHUNK_BYTES = 16 * 1024 * 1024
#: Bytes of a text file's first chunk: it is ready in a few ms, so the next
#: stage starts at once (the first chunk of an ingest, and of the screening
#: process, otherwise took 0.1-0.2 s to read and screen).
FIRST_CHUNK_BYTES = 2 * 1024 * 1024
#: Whether lines are split by the C extension (trellis._screen): outside
#: Python's lock, in one copy. Splitting in Python (memchr through bytes.find,
#: then bytes.replace and a scan for carriage returns) held the lock some 4.5
#: us a demo line (0.45 s of a 100k-request ingest, py-spy --gil), and the
#: appends next to it waited for it.
NATIVE_SPLIT = _native is not None
#: Rows per chunk for row-wise inputs (Parquet, records), within CHUNK_BYTES.
CHUNK_ROWS = 20_000
#: Parquet rows turned into Python objects at a time.
PARQUET_BATCH_ROWS = 1_000
#: Rows and text bytes per Arrow record batch of a chunk (see _chunk).
BATCH_ROWS = 4096
BATCH_BYTES = 1024 * 1024

CHUNK_SCHEMA = pa.schema(
    [
        ("source_line", pa.int64()),
        ("line", pa.large_string()),
        ("is_utf8", pa.bool_()),
        ("record_hash", pa.string()),
    ]
)

#: Top-level fields that are JSON objects in the contract; Parquet may carry
#: them as JSON strings.
OBJECT_FIELDS = frozenset(
    {"request", "response", "error", "fallback", "prompt", "agent_config", "branch", "metadata"}
)


class _Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


_GZIP_MAGIC = b"\x1f\x8b"
#: What ISA-L raises on corrupt deflate data (zlib.error's twin; typed as an
#: instance in isal's stubs).
_INFLATE_ERROR = cast(type[Exception], isal_zlib.error)
_PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class TextPosition:
    """A place between two lines of a text input: bytes of text before it (uncompressed, for
    gzip) and the number of the line that starts there."""

    offset: int = 0
    line: int = 1


def iter_file_chunks(path: Path, start: TextPosition | None = None) -> Iterator[pa.Table]:
    """Chunks of one input file; the format is taken from its first bytes.

    `start` (text inputs only) skips the lines before a position that
    `iter_text_chunks` gave, numbering the rest as in a full read.
    """
    magic = _magic(path)  # (a generator: the file is opened at the first chunk)
    if magic == _PARQUET_MAGIC:
        if start is not None and start != TextPosition():
            raise ValueError("a Parquet file is read from its start")
        yield from _parquet_chunks(path)
    else:
        gzipped = magic[:2] == _GZIP_MAGIC
        for chunk, _ in _text_file_chunks(path, gzipped, start or TextPosition()):
            yield chunk


def is_parquet(path: Path) -> bool:
    """Whether `path` is a Parquet file (else JSON lines, plain or gzip)."""
    return _magic(path) == _PARQUET_MAGIC


def iter_text_chunks(path: Path, start: TextPosition) -> Iterator[tuple[pa.Table, TextPosition]]:
    """The chunks of a text input (JSONL, plain or gzip) from `start`, each with the position
    after it: where a reader of the rest starts (the screening process, see screen_worker)."""
    return _text_file_chunks(path, _magic(path)[:2] == _GZIP_MAGIC, start)


def _text_file_chunks(
    path: Path, gzipped: bool, start: TextPosition
) -> Iterator[tuple[pa.Table, TextPosition]]:
    try:
        # ISA-L's inflate: some three times zlib's speed, the same format and errors
        stream = igzip.open(path, "rb") if gzipped else path.open("rb")
    except OSError as exc:
        raise TrellisError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with stream:
        if start.offset:
            try:
                stream.seek(start.offset)  # gzip: inflated and dropped
            except (OSError, EOFError, _INFLATE_ERROR) as exc:
                raise TrellisError(f"cannot read {path}: {exc}") from exc
        size = None if gzipped else _buffer_size(path)
        yield from _text_chunks(stream, path, size, start)


def _magic(path: Path) -> bytes:
    try:
        with path.open("rb") as probe:
            return probe.read(4)
    except OSError as exc:
        raise TrellisError(f"cannot read {path}: {exc.strerror or exc}") from exc


def iter_record_chunks(records: Iterable[Mapping[str, Any]]) -> Iterator[pa.Table]:
    """Chunks of in-memory records, one JSON line each, numbered from 1."""
    return _line_chunks(record_to_json(record) for record in records)


def _line_chunks(lines: Iterable[str]) -> Iterator[pa.Table]:
    """Lines made in Python, gathered into chunks of up to CHUNK_BYTES / CHUNK_ROWS."""
    gathered: list[str] = []
    size = 0
    first_line = 1
    for line in lines:
        gathered.append(line)
        size += len(line)
        if size >= CHUNK_BYTES or len(gathered) >= CHUNK_ROWS:
            yield _table_from_lines(gathered, first_line)
            first_line += len(gathered)
            gathered, size = [], 0
    if gathered:
        yield _table_from_lines(gathered, first_line)


def record_to_json(record: Mapping[str, Any]) -> str:
    """A record as one line of JSON (non-JSON Python values made JSON-friendly)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _buffer_size(path: Path) -> int:
    """A read buffer for a plain file: CHUNK_BYTES, or less for a smaller file."""
    try:
        return min(CHUNK_BYTES, path.stat().st_size + 1)
    except OSError:
        return CHUNK_BYTES


def _text_chunks(
    stream: _Readable, path: Path, size: int | None, start: TextPosition
) -> Iterator[tuple[pa.Table, TextPosition]]:
    """Chunks of whole lines, read into one reused buffer (no per-chunk allocation), each
    with the position after it.

    The bytes after the last newline move to the front of the buffer for the
    next read; a line longer than the buffer doubles it.
    """
    buffer = bytearray(size or CHUNK_BYTES)
    filled = 0  # bytes at the front: the unfinished last line of the previous read
    offset, next_line = start.offset, start.line
    first_read = True
    while True:
        if filled == len(buffer):
            buffer.extend(bytes(len(buffer)))
        # the first read stops at FIRST_CHUNK_BYTES
        limit = min(FIRST_CHUNK_BYTES, len(buffer)) if first_read else len(buffer)
        first_read = False
        with memoryview(buffer) as view:
            try:
                read = stream.readinto(view[filled:limit])
            except (OSError, EOFError, _INFLATE_ERROR) as exc:
                raise TrellisError(f"cannot read {path}: {exc}") from exc
        if not read:
            break
        end = filled + read
        cut = buffer.rfind(b"\n", filled, end)
        if cut < 0:
            filled = end
            continue
        table = _table_from_bytes(buffer, cut, next_line)
        offset, next_line = offset + cut + 1, next_line + table.num_rows
        yield table, TextPosition(offset, next_line)
        buffer[: end - cut - 1] = buffer[cut + 1 : end]
        filled = end - cut - 1
    if filled:
        table = _table_from_bytes(buffer, filled, next_line)
        yield table, TextPosition(offset + filled, next_line + table.num_rows)


def _table_from_bytes(buffer: bytearray, size: int, first_line: int) -> pa.Table:
    """Split the first `size` bytes of `buffer` (newline-separated) into numbered lines.

    The lines are copied out (the buffer is reused), newlines dropped: the
    line ends are found with memchr and the text without its newlines
    becomes the Arrow data buffer as is (in C, see NATIVE_SPLIT; Arrow's
    split_pattern cost ten times Python's bytes.find and bytes.replace, 2.8
    ms per MB). Carriage returns ending a line (CRLF files) are not part of it.
    """
    if NATIVE_SPLIT:
        binary, trimmed = _native_split(buffer, size), True
    else:
        binary, trimmed = _split(buffer, size), False
    try:
        lines = binary.cast(pa.large_string())
        is_utf8 = pa.repeat(True, len(lines))
        if not trimmed and buffer.find(b"\r", 0, size) >= 0:
            lines = pc.utf8_rtrim(lines, characters="\r")
    except pa.ArrowInvalid:
        decoded = [_decode(value.rstrip(b"\r")) for value in binary.to_pylist()]
        lines = pa.array([text for text, _ in decoded], pa.large_string())
        is_utf8 = pa.array([ok for _, ok in decoded], pa.bool_())
    return _chunk(first_line, lines, is_utf8)


def _native_split(buffer: bytearray, size: int) -> pa.LargeBinaryArray:
    """The lines of `buffer[:size]`, split in C without the GIL (trellis._screen.split_lines),
    carriage returns ending them left out."""
    assert _native is not None
    offsets, text = _native.split_lines(buffer, size)
    count = len(offsets) // 8 - 1
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), count, [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    )


def _split(buffer: bytearray, size: int) -> pa.LargeBinaryArray:
    """The lines of `buffer[:size]` (carriage returns kept), split here: with Python's
    lock held, the reader then stalls the appends (see NATIVE_SPLIT)."""
    ends = _newlines(buffer, size)
    count = len(ends)  # newlines; the lines are one more
    if count == 0:
        text = buffer[:size]
    elif size > len(buffer) // 2:
        text = buffer.replace(b"\n", b"")  # the bytes past `size` too, but one copy
    else:  # a short read (a small file, the end of one): only its bytes
        text = buffer[:size].replace(b"\n", b"")
    offsets = numpy.empty(count + 2, numpy.int64)
    offsets[0] = 0
    # line k ends where its newline was, less the k newlines dropped before it
    offsets[1 : count + 1] = numpy.asarray(ends, numpy.int64) - numpy.arange(count)
    offsets[count + 1] = size - count
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), count + 1, [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    )


def _newlines(buffer: bytearray, size: int) -> list[int]:
    """Positions of the newlines in the first `size` bytes of `buffer`."""
    found: list[int] = []
    find, add = buffer.find, found.append
    at = find(b"\n", 0, size)
    while at >= 0:
        add(at)
        at = find(b"\n", at + 1, size)
    return found


def _chunk(first_line: int, lines: pa.Array, is_utf8: pa.Array) -> pa.Table:
    """The chunk table, in record batches of at most BATCH_ROWS rows and about BATCH_BYTES.

    DuckDB scans one batch per thread and never merges batches into a
    vector, so a batch's size bounds what its JSON functions hold parsed at
    once (several times the text), whatever the size of the records.
    """
    count = len(lines)
    numbers = pa.array(range(first_line, first_line + count), pa.int64())
    offsets = line_offsets(lines)
    table = pa.Table.from_arrays([numbers, lines, is_utf8, _hashes(lines)], schema=CHUNK_SCHEMA)
    batches = []
    start = 0
    while start < count:
        by_bytes = bisect.bisect_right(offsets, offsets[start] + BATCH_BYTES, start + 1) - 1
        end = min(max(by_bytes, start + 1), start + BATCH_ROWS, count)
        batches += table.slice(start, end - start).to_batches()
        start = end
    return pa.Table.from_batches(batches, CHUNK_SCHEMA)


def line_offsets(lines: pa.Array) -> list[int]:
    """Where each line starts in the data buffer, and where the last one ends."""
    offsets_buffer = lines.buffers()[1]
    view = memoryview(offsets_buffer).cast("q")  # large_string: 64-bit offsets
    return view[lines.offset : lines.offset + len(lines) + 1].tolist()


def _hashes(lines: pa.Array) -> pa.Array:
    """A 128-bit hash of each line's UTF-8 bytes in 32 hex digits (native.string_hashes)."""
    return fixed_width_strings(string_hashes(lines, hex=True), HASH_DIGITS)


#: Hex digits of a line's hash.
HASH_DIGITS = 32


def _decode(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), False


def _table_from_lines(lines: list[str], first_line: int) -> pa.Table:
    texts = pa.array(lines, pa.large_string())
    return _chunk(first_line, texts, pa.repeat(True, len(lines)))


def _parquet_chunks(path: Path) -> Iterator[pa.Table]:
    """Parquet rows back to JSON objects; source_line is the 1-based row number.

    Parquet cannot tell an absent field from a null one, so nulls are dropped
    (at every level): a record written to Parquet and back hashes the same as
    its JSONL original. Object fields stored as JSON strings are parsed back.
    """
    # imported here: some 16 ms (with pyarrow.fs) that a JSONL ingest never needs
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise TrellisError(f"cannot read Parquet file {path}: {exc}") from exc
    # Rows become Python objects (some ten times their size) a small batch
    # at a time; only their JSON lines are gathered into chunks.
    yield from _line_chunks(
        record_to_json(_from_parquet_row(row))
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS)
        for row in batch.to_pylist()
    )


def _from_parquet_row(row: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key, value in row.items():
        if value is None:
            continue
        if key in OBJECT_FIELDS and isinstance(value, str):
            value = _parse_json_object(value)
        record[key] = _drop_nulls(value)
    return record


def _parse_json_object(text: str) -> Any:
    try:
        parsed = json.loads(text)
    except ValueError:
        return text  # left as a string; validation reports the wrong type
    return parsed if isinstance(parsed, dict) else text


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        if value and isinstance(value[0], tuple) and len(value[0]) == 2:
            return {str(k): _drop_nulls(v) for k, v in value if v is not None}  # a Parquet map
        return [_drop_nulls(item) for item in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # Parquet timestamps without a zone are taken as UTC
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.timedelta):
        return value.total_seconds() * 1000
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
