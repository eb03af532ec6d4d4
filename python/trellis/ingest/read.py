"""Input files as numbered lines of JSON text: JSONL (plain or gzip) and Parquet.

A line is (position, text to check, original text, problem): the original
is what quarantine keeps; a problem marks a line that could not be read at
all (the unreadable rest of a damaged gzip file).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq
from isal import isal_zlib

from trellis.errors import TrellisError
from trellis.ingest.contract import UNREADABLE

__all__ = ["Line", "file_lines", "is_parquet", "record_text"]

#: Bytes read from a file at a time: a block that stays in the CPU's cache
#: is split while it is still there, and its memory is reused, where an 8 MiB
#: one is fresh pages every time.
BLOCK_BYTES = 1024 * 1024
#: Compressed bytes inflated at a time (about a BLOCK_BYTES of text).
GZIP_BLOCK_BYTES = 128 * 1024
#: Parquet rows converted at a time.
PARQUET_ROWS = 4096
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
#: Top-level fields that are objects: Parquet files may hold them as JSON strings.
_OBJECT_FIELDS = frozenset(
    ("request", "response", "error", "fallback", "prompt", "agent_config", "branch", "metadata")
)


#: What inflating a corrupt gzip stream raises (isal's stubs do not say it is an Exception).
_INFLATE_ERROR: type[Exception] = isal_zlib.IsalError  # type: ignore[assignment]


class Line(NamedTuple):
    position: int
    raw: bytes
    original: bytes | str
    #: (reason, detail) of a line that could not be read; None for a line to check.
    problem: tuple[str, str] | None = None


def is_parquet(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"PAR1"


def file_lines(path: Path) -> Iterator[Line]:
    """Every non-blank line of `path` with its 1-based number (Parquet: row number)."""
    if is_parquet(path):
        yield from _parquet_lines(path)
        return
    with path.open("rb") as handle:
        gzipped = handle.read(2) == _GZIP_MAGIC
    with path.open("rb") as handle:
        yield from _text_lines(_ahead(_inflated(handle) if gzipped else _blocks(handle)))


def _ahead(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """`blocks`, the next one read (and inflated) on a thread of its own while this
    one is split and checked: reading a file and isal's inflating run without
    Python's lock, so they overlap the checking."""
    with ThreadPoolExecutor(1, thread_name_prefix="trellis-read") as reader:
        pending = reader.submit(next, blocks, b"")
        while block := pending.result():
            pending = reader.submit(next, blocks, b"")
            yield block


def _blocks(handle: BinaryIO) -> Iterator[bytes]:
    while block := handle.read(BLOCK_BYTES):
        yield block


def _inflated(handle: BinaryIO) -> Iterator[bytes]:
    """The gzip members of `handle`, inflated block by block: what precedes damage is
    handed out before the error (EOFError: truncated; IsalError: corrupt)."""
    inflater = isal_zlib.decompressobj(wbits=31)
    pending = b""
    while True:
        block = pending or handle.read(GZIP_BLOCK_BYTES)
        pending = b""
        if not block:
            if not inflater.eof:
                raise EOFError("the gzip stream ends before its end marker")
            return
        if inflated := inflater.decompress(block):  # (b"" would read as the end)
            yield inflated
        if inflater.eof:  # a next member may follow
            pending = inflater.unused_data
            inflater = isal_zlib.decompressobj(wbits=31)
            if not pending and not (pending := handle.read(GZIP_BLOCK_BYTES)):
                return


def _text_lines(blocks: Iterator[bytes]) -> Iterator[Line]:
    number = 0
    rest = b""
    first = True
    while True:
        try:
            block = next(blocks, b"")
        except (EOFError, OSError, _INFLATE_ERROR) as exc:
            # a truncated or corrupt gzip stream: what was read loads, the rest is recorded
            detail = f"the file cannot be read past line {number}: {exc or type(exc).__name__}"
            yield Line(number + 1, rest, rest, (UNREADABLE, detail))
            return
        if first:
            block = block.removeprefix(_BOM)
            first = False
        if not block:
            break
        lines = block.split(b"\n")
        lines[0] = rest + lines[0]  # (rest + block would copy the whole block)
        rest = lines.pop()
        for line in lines:
            number += 1
            line = line.removesuffix(b"\r")
            if line and not line.isspace():  # (strip() would copy every line)
                yield Line(number, line, line)
    rest = rest.removesuffix(b"\r")
    if rest and not rest.isspace():
        yield Line(number + 1, rest, rest)


def _parquet_lines(path: Path) -> Iterator[Line]:
    try:
        parquet = pq.ParquetFile(path)
        batches = parquet.iter_batches(batch_size=PARQUET_ROWS)
        number = 0
        for batch in batches:
            for row in _rows(batch):
                number += 1
                text = record_text(row)
                yield Line(number, text.encode("utf-8", "surrogatepass"), text)
    except (pa.ArrowException, OSError) as exc:
        raise TrellisError(f"cannot read {path}: {exc}") from exc


def _rows(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """Rows as dicts; an extension type Arrow cannot convert is read as its storage."""
    try:
        rows = batch.to_pylist()
    except (pa.ArrowException, ValueError, TypeError):
        columns = [
            column.storage if isinstance(column, pa.ExtensionArray) else column
            for column in batch.columns
        ]
        rows = pa.RecordBatch.from_arrays(columns, names=batch.schema.names).to_pylist()
    for row in rows:
        for name in _OBJECT_FIELDS.intersection(row):
            value = row[name]
            if isinstance(value, str):
                # a string that is not JSON stays: validation says it is not an object
                with contextlib.suppress(ValueError):
                    row[name] = json.loads(value)
    return [_without_nulls(row) for row in rows]


def _without_nulls(value: Any) -> Any:
    """Columnar files hold null for a field a record does not have: it is left out."""
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def record_text(record: Any) -> str:
    """A record built in memory as one line of JSON (NaN stays NaN: validation refuses it)."""
    return json.dumps(record, ensure_ascii=False, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(value).decode("ascii")
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return str(value)
