"""OpenAI Batch API files to contract v1: an input file and its output file, joined on
`custom_id`.

Input line: {custom_id, method, url, body: chat-completions request}.
Output line: {id, custom_id, response: {status_code, request_id, body} | null,
error: {code, message} | null}. Which file is which is told by their first
line (an output line has `response` or `error`), so the order on the command
line does not matter. The input files are indexed first (custom_id -> the
byte offset of its line: some 60 bytes a request, not the request), then
each output line is one call, its request read back from the input by
seeking. An output line whose status is not 2xx, or with an `error`, is an
error call. Input lines without an output line never ran: they are not
calls and are counted as skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import msgspec

from trellis.errors import TrellisError
from trellis.importers.common import (
    MESSAGES_ABSENT,
    MISSING_FIELD,
    ImportOptions,
    Unmappable,
    bad_item,
    compact,
    from_epoch,
    not_object,
    usage,
)
from trellis.importers.reading import Bad, open_binary, raw_records
from trellis.ingest import SourceItem

if TYPE_CHECKING:
    from trellis.importers import Stream

__all__ = ["map_line", "streams"]

_decode = msgspec.json.Decoder().decode
_REQUEST_PARAMETERS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "seed",
    "n",
    "stop",
    "tools",
    "tool_choice",
    "response_format",
)


def streams(paths: Sequence[Path], options: ImportOptions) -> Iterator[Stream]:
    from trellis.importers import Stream

    inputs = [path for path in paths if not _is_output(path)]
    outputs = [path for path in paths if _is_output(path)]
    if not outputs:
        raise TrellisError("openai-batch needs a batch output file (lines with `response`)")
    index = _Index(inputs)
    try:
        for path in outputs:
            skipped: Counter[str] = Counter()
            yield Stream("requests", str(path), _items(path, index, options), skipped)
        never_ran = len(index.offsets) - len(index.used)
        if never_ran:  # an empty stream that only reports them
            counted = Counter({"batch input lines without an output line": never_ran})
            yield Stream("requests", str(outputs[-1]), iter(()), counted)
    finally:
        index.close()


def _is_output(path: Path) -> bool:
    for raw in raw_records(path):
        return isinstance(raw.value if not isinstance(raw, Bad) else None, dict) and (
            "response" in raw.value or "error" in raw.value  # type: ignore[union-attr]
        )
    return False


class _Index:
    """custom_id -> (input file, offset of its line): the requests stay on disk."""

    def __init__(self, inputs: list[Path]) -> None:
        self.handles: list[IO[bytes]] = []
        self.offsets: dict[str, tuple[int, int]] = {}
        self.used: set[str] = set()
        for number, path in enumerate(inputs):
            handle = open_binary(path)
            self.handles.append(handle)
            offset = 0
            for line in handle:
                custom_id = _custom_id(line)
                if custom_id is not None and custom_id not in self.offsets:
                    self.offsets[custom_id] = (number, offset)
                offset += len(line)

    def request(self, custom_id: str) -> Mapping[str, Any] | None:
        found = self.offsets.get(custom_id)
        if found is None:
            return None
        self.used.add(custom_id)
        handle = self.handles[found[0]]
        handle.seek(found[1])
        value = _decode(handle.readline())
        return value if isinstance(value, dict) else None

    def close(self) -> None:
        for handle in self.handles:
            handle.close()


class _CustomId(msgspec.Struct):
    custom_id: str | None = None


_decode_id = msgspec.json.Decoder(_CustomId).decode


def _custom_id(line: bytes) -> str | None:
    try:
        return _decode_id(line).custom_id
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _items(path: Path, index: _Index, options: ImportOptions) -> Iterator[SourceItem]:
    last_created: str | None = None
    fallback_time = from_epoch(path.stat().st_mtime)
    for raw in raw_records(path):
        if isinstance(raw, Bad):
            yield bad_item(raw, raw.reason)
            continue
        if not isinstance(raw.value, dict):
            yield not_object(raw)
            continue
        custom_id = raw.value.get("custom_id")
        batch_input = index.request(custom_id) if isinstance(custom_id, str) else None
        try:
            failed_at = (
                (last_created, "the last success before it")
                if last_created
                else (
                    fallback_time,
                    "the output file's modification time",
                )
            )
            record = map_line(raw.value, batch_input, failed_at, options)
        except Unmappable as exc:
            yield SourceItem(raw.position, raw.text, None, exc.reason)
            continue
        if record.get("status") == "success":
            last_created = record["created_at"]
        yield SourceItem(raw.position, raw.text, record)


def map_line(
    output: Mapping[str, Any],
    batch_input: Mapping[str, Any] | None,
    failed_at: tuple[str, str],
    options: ImportOptions,
) -> dict[str, Any]:
    """One output line (with its input line) as a request record. A failed line has no
    time of its own: it takes `failed_at` (a time, and where it comes from)."""
    if batch_input is None:
        raise Unmappable(MISSING_FIELD, "no input line has this custom_id")
    if not output.get("id"):
        raise Unmappable(MISSING_FIELD, "an output line needs id")
    body = _mapping(batch_input.get("body"))
    response = _mapping(output.get("response"))
    status_code = response.get("status_code")
    answer = _mapping(response.get("body"))
    error = _mapping(output.get("error")) or _mapping(answer.get("error"))
    failed = bool(error) or not (isinstance(status_code, int) and 200 <= status_code < 300)
    created = answer.get("created")
    has_time = isinstance(created, int | float) and not failed
    created_at = from_epoch(float(created or 0)) if has_time else failed_at[0]
    request: dict[str, Any] = {"messages": body.get("messages") or MESSAGES_ABSENT}
    for name in _REQUEST_PARAMETERS:
        if body.get(name) is not None:
            request["max_tokens" if name == "max_completion_tokens" else name] = body[name]
    record = {
        "request_id": str(output["id"]),
        "created_at": created_at,
        "tenant_id": options.tenant,
        "agent_id": options.agent or "openai-batch",
        "model": _string(body.get("model")) or "unknown",
        "served_model": None if failed else _string(answer.get("model")),
        "provider": "openai",
        "endpoint": _string(batch_input.get("url")),
        "request": request,
        "response": None if failed else _response(answer),
        "status": "error" if failed else "success",
        "error": compact(
            {
                "code": _string(error.get("code")) or _string(error.get("type")),
                "message": _string(error.get("message")) or "batch request failed",
                "http_status": status_code if isinstance(status_code, int) else None,
            }
        )
        if failed
        else None,
        "metadata": compact(
            {
                "source": "openai-batch",
                "custom_id": _string(output.get("custom_id")),
                "openai_request_id": _string(response.get("request_id")),
                "time_from": None if has_time else failed_at[1],
                "messages_absent": True if not body.get("messages") else None,
            }
        ),
    }
    return compact(record)


def _response(answer: Mapping[str, Any]) -> dict[str, Any]:
    body = dict(answer)
    found = _mapping(answer.get("usage"))
    details = _mapping(found.get("prompt_tokens_details"))
    converted = usage(
        found.get("prompt_tokens"), found.get("completion_tokens"), details.get("cached_tokens")
    )
    if converted:
        reasoning = _mapping(found.get("completion_tokens_details")).get("reasoning_tokens")
        if isinstance(reasoning, int) and reasoning > 0:
            converted["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        body["usage"] = converted
    return body


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
