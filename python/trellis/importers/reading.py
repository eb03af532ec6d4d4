"""Stream the JSON records of a source file, one at a time, with their position and text.

Two shapes cover every format we import:

- JSON Lines: one record a line, decoded by msgspec; the position is the
  line number and the raw text the line itself.
- One JSON document (an array of records, or an object holding one, such
  as a Langfuse API page's `data`): read by ijson's C backend (yajl), which
  yields one array item at a time, so a 1 GB `conversations.json` never
  sits in memory whole. The position is the item's index (1-based) and the
  raw text the item re-serialized (a JSON document has no line of its own
  per item).

A file is JSON Lines when its first line is a complete JSON value (a
pretty-printed document's first line never is). A line or item that does
not decode is handed on as a `Bad` with the reason `invalid_json`, never
dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson
import msgspec
from isal import igzip

from trellis.errors import TrellisError

__all__ = ["Bad", "Raw", "dumps", "open_binary", "raw_records"]

INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Raw:
    """One decoded record: its position in the file, its text, its value."""

    position: int
    text: str
    value: Any


@dataclass(frozen=True, slots=True)
class Bad:
    """A record that could not be decoded."""

    position: int
    text: str
    reason: str


def dumps(value: Any) -> str:
    """Compact JSON text of a decoded value."""
    return _encode(value).decode("utf-8")


def open_binary(path: Path) -> IO[bytes]:
    """The file's bytes, gunzipped when it is gzip (by its magic number)."""
    try:
        handle: IO[bytes] = open(path, "rb")  # noqa: SIM115 - returned to the caller
    except OSError as exc:
        raise TrellisError(f"cannot read {path}: {exc.strerror}") from None
    if handle.peek(2)[:2] == b"\x1f\x8b":  # type: ignore[attr-defined]
        return igzip.IGzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    return handle


def raw_records(path: Path, object_prefix: str = "") -> Iterator[Raw | Bad]:
    """The records of `path`: its lines when it is JSON Lines; else each item of its
    one JSON document when that is an array; else, for an object, the values at
    `object_prefix` (ijson's prefix: "" for the object itself, `data.item` for
    each item of its `data` array)."""
    with open_binary(path) as handle:
        first = handle.readline()
        while first and not first.strip():
            first = handle.readline()
        if not first:
            return
        if _is_whole_value(first):
            yield from _lines(first, handle)
        else:
            handle.seek(0)
            is_array = first.lstrip().startswith(b"[")
            yield from _document_items(handle, "item" if is_array else object_prefix)


def _is_whole_value(line: bytes) -> bool:
    stripped = line.strip()
    if stripped.startswith(b"["):
        # `[{...}]` on one line is a whole document (an array), not JSON Lines
        return False
    try:
        _decode(stripped)
    except msgspec.DecodeError:
        # a line that is not JSON and does not open a document is a bad JSONL line
        return not stripped.startswith(b"{") or stripped.endswith(b"}")
    return True


def _lines(first: bytes, handle: IO[bytes]) -> Iterator[Raw | Bad]:
    number = 0
    for line in _chain(first, handle):
        number += 1
        stripped = line.strip()
        if not stripped:
            continue
        # the line as it was, less its line break
        text = line.rstrip(b"\r\n").decode("utf-8", errors="replace")
        try:
            yield Raw(number, text, _decode(stripped))
        except msgspec.DecodeError:
            yield Bad(number, text, INVALID_JSON)


def _chain(first: bytes, handle: IO[bytes]) -> Iterator[bytes]:
    yield first
    yield from handle


def _document_items(handle: IO[bytes], prefix: str) -> Iterator[Raw | Bad]:
    number = 0
    items = ijson.items(handle, prefix, use_float=True)
    while True:
        try:
            value = next(items)
        except StopIteration:
            return
        except (ijson.JSONError, ijson.IncompleteJSONError) as exc:
            # the rest of a broken document cannot be read: one Bad says where it broke
            yield Bad(number + 1, f"<unreadable JSON after item {number}: {exc}>", INVALID_JSON)
            return
        number += 1
        yield Raw(number, json.dumps(value, ensure_ascii=False, separators=(",", ":")), value)
