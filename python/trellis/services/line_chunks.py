"""Input files as a stream of Arrow chunks: (source_line, line, is_utf8).

Every input format becomes the same thing, lines of JSON text numbered from
1, so one validation path serves JSONL, gzip, Parquet and in-memory records.
Chunks are bounded in bytes, so a file of any size streams in bounded memory.
Splitting and UTF-8 checking are vectorized (Arrow compute); Python touches
each line only when a chunk holds invalid UTF-8 or comes from Parquet.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import gzip
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trellis.errors import TrellisError

#: Bytes of text per chunk: large enough to amortize DuckDB's per-query cost,
#: small enough that a chunk and its derived tables stay well under the
#: memory budget.
CHUNK_BYTES = 8 * 1024 * 1024
#: Rows per chunk for row-wise inputs (Parquet, records).
CHUNK_ROWS = 20_000

CHUNK_SCHEMA = pa.schema(
    [("source_line", pa.int64()), ("line", pa.large_string()), ("is_utf8", pa.bool_())]
)

#: Top-level fields that are JSON objects in the contract; Parquet may carry
#: them as JSON strings.
OBJECT_FIELDS = frozenset(
    {"request", "response", "error", "fallback", "prompt", "agent_config", "branch", "metadata"}
)


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


_GZIP_MAGIC = b"\x1f\x8b"
_PARQUET_MAGIC = b"PAR1"


def iter_file_chunks(path: Path) -> Iterator[pa.Table]:
    """Chunks of one input file; the format is taken from its first bytes."""
    try:
        with path.open("rb") as probe:
            magic = probe.read(4)
    except OSError as exc:
        raise TrellisError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if magic == _PARQUET_MAGIC:
        yield from _parquet_chunks(path)
    elif magic[:2] == _GZIP_MAGIC:
        with gzip.open(path, "rb") as stream:
            yield from _text_chunks(stream, path)
    else:
        with path.open("rb") as stream:
            yield from _text_chunks(stream, path)


def iter_record_chunks(records: Iterable[Mapping[str, Any]]) -> Iterator[pa.Table]:
    """Chunks of in-memory records, one JSON line each, numbered from 1."""
    lines: list[str] = []
    first_line = 1
    for record in records:
        lines.append(record_to_json(record))
        if len(lines) >= CHUNK_ROWS:
            yield _table_from_lines(lines, first_line)
            first_line += len(lines)
            lines = []
    if lines:
        yield _table_from_lines(lines, first_line)


def record_to_json(record: Mapping[str, Any]) -> str:
    """A record as one line of JSON (non-JSON Python values made JSON-friendly)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _text_chunks(stream: _Readable, path: Path) -> Iterator[pa.Table]:
    next_line = 1
    carry = b""
    while True:
        try:
            block = stream.read(CHUNK_BYTES)
        except (OSError, EOFError) as exc:
            raise TrellisError(f"cannot read {path}: {exc}") from exc
        if not block:
            break
        data = carry + block
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        carry = data[cut + 1 :]
        table = _table_from_bytes(data[:cut], next_line)
        next_line += table.num_rows
        yield table
    if carry:
        yield _table_from_bytes(carry, next_line)


def _table_from_bytes(data: bytes, first_line: int) -> pa.Table:
    """Split newline-separated bytes into numbered lines (no trailing newline in data)."""
    binary = pc.split_pattern(pa.array([data], pa.large_binary()), b"\n").flatten()
    count = len(binary)
    try:
        lines = binary.cast(pa.large_string())
        is_utf8 = pa.repeat(True, count)
    except pa.ArrowInvalid:
        decoded = [_decode(value) for value in binary.to_pylist()]
        lines = pa.array([text for text, _ in decoded], pa.large_string())
        is_utf8 = pa.array([ok for _, ok in decoded], pa.bool_())
    numbers = pa.array(range(first_line, first_line + count), pa.int64())
    return pa.Table.from_arrays([numbers, lines, is_utf8], schema=CHUNK_SCHEMA)


def _decode(raw: bytes) -> tuple[str, bool]:
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), False


def _table_from_lines(lines: list[str], first_line: int) -> pa.Table:
    numbers = pa.array(range(first_line, first_line + len(lines)), pa.int64())
    texts = pa.array(lines, pa.large_string())
    return pa.Table.from_arrays([numbers, texts, pa.repeat(True, len(lines))], schema=CHUNK_SCHEMA)


def _parquet_chunks(path: Path) -> Iterator[pa.Table]:
    """Parquet rows back to JSON objects; source_line is the 1-based row number.

    Parquet cannot tell an absent field from a null one, so nulls are dropped
    (at every level): a record written to Parquet and back hashes the same as
    its JSONL original. Object fields stored as JSON strings are parsed back.
    """
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        raise TrellisError(f"cannot read Parquet file {path}: {exc}") from exc
    first_line = 1
    for batch in parquet.iter_batches(batch_size=CHUNK_ROWS):
        lines = [record_to_json(_from_parquet_row(row)) for row in batch.to_pylist()]
        yield _table_from_lines(lines, first_line)
        first_line += len(lines)


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
