"""The messages of chosen requests, read straight from their raw records.

What stg_gateway__request_messages gives (one row per request x message: the
context's messages in order, then the reply, each as plain text: the
content's text, then one line `name(arguments)` per tool call), for the few
requests the embedding needs (the leaves of new trajectories). The records
are decoded with msgspec into structs of the fields used, the rest of a
record skipped unread: DuckDB's json_transform builds the typed struct of
every message first, which made reading the messages most of the embedding's
time. tests/test_evaluation.py holds the two renderings to the same text.
"""

from __future__ import annotations

from typing import Any

import duckdb
import msgspec
import pyarrow as pa


class _Message(msgspec.Struct):
    role: Any = None
    content: Any = None
    tool_calls: Any = None


class _Choice(msgspec.Struct):
    message: _Message | None = None


class _Request(msgspec.Struct):
    messages: list[_Message] | None = None


class _Response(msgspec.Struct):
    choices: list[_Choice] | None = None


class _Record(msgspec.Struct):
    request: _Request | None = None
    response: _Response | None = None


_DECODER = msgspec.json.Decoder(_Record)
_LOOSE = msgspec.json.Decoder()
_ENCODER = msgspec.json.Encoder()

MESSAGE_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("tenant_id", pa.string()),
        ("message_index", pa.int64()),
        ("message_role", pa.string()),
        ("message_text", pa.string()),
        ("is_reply", pa.bool_()),
    ]
)


def _scalar_text(value: Any) -> str | None:
    """JSON `->> '$'`: a string as is, null as null, anything else as JSON text."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return _ENCODER.encode(value).decode()


def _content_text(content: Any) -> str:
    """A string content, or its parts of type "text" joined; '' otherwise."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            text
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
            for text in (_scalar_text(part.get("text")),)
            if text is not None
        )
    return ""


def _call_text(call: Any) -> str:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict):
        return "()"
    name = _scalar_text(function.get("name")) or ""
    return f"{name}({_scalar_text(function.get('arguments')) or ''})"


def _message_text(content: Any, tool_calls: Any) -> str:
    parts = [_content_text(content)]
    if isinstance(tool_calls, list):
        parts.append("\n".join(_call_text(call) for call in tool_calls))
    return "\n".join(part for part in parts if part)


def _as_message(value: Any) -> _Message:
    if isinstance(value, dict):
        return _Message(value.get("role"), value.get("content"), value.get("tool_calls"))
    return _Message()


def _loose_record(record: str) -> _Record:
    """A record whose messages are not all objects (kept, as staging keeps them)."""
    data = _LOOSE.decode(record)
    request = data.get("request") if isinstance(data, dict) else None
    response = data.get("response") if isinstance(data, dict) else None
    messages = request.get("messages") if isinstance(request, dict) else None
    choices = response.get("choices") if isinstance(response, dict) else None
    return _Record(
        _Request([_as_message(m) for m in messages] if isinstance(messages, list) else None),
        _Response(
            [
                _Choice(_as_message(c.get("message")) if isinstance(c, dict) else None)
                for c in choices
            ]
            if isinstance(choices, list)
            else None
        ),
    )


def request_messages(con: duckdb.DuckDBPyConnection, requests_sql: str) -> pa.Table:
    """The messages of the requests `requests_sql` selects (request_id,
    tenant_id, record), in MESSAGE_SCHEMA. Built batch by batch: Python holds
    one batch's messages as objects at a time, the rest as Arrow (a million
    leaves' messages as Python strings took gigabytes)."""
    reader = con.execute(
        f"select request_id, tenant_id, cast(record as varchar) from ({requests_sql})"
    ).to_arrow_reader(8192)
    batches = [_batch_messages(batch) for batch in reader]
    return pa.Table.from_batches(batches, schema=MESSAGE_SCHEMA)


def _batch_messages(batch: pa.RecordBatch) -> pa.RecordBatch:
    columns: dict[str, list[Any]] = {name: [] for name in MESSAGE_SCHEMA.names}
    for request_id, tenant_id, record in zip(*(c.to_pylist() for c in batch.columns), strict=True):
        try:
            parsed = _DECODER.decode(record)
        except msgspec.ValidationError:
            parsed = _loose_record(record)
        messages = (parsed.request.messages if parsed.request else None) or []
        choices = (parsed.response.choices if parsed.response else None) or []
        reply = choices[0].message if choices else None
        rows = [(m, False) for m in messages]
        if reply is not None and reply.role is not None:
            rows.append((reply, True))
        for index, (message, is_reply) in enumerate(rows):
            columns["request_id"].append(request_id)
            columns["tenant_id"].append(tenant_id)
            columns["message_index"].append(index)
            columns["message_role"].append(
                "unknown" if message.role is None else _scalar_text(message.role)
            )
            columns["message_text"].append(_message_text(message.content, message.tool_calls))
            columns["is_reply"].append(is_reply)
    return pa.RecordBatch.from_pydict(columns, schema=MESSAGE_SCHEMA)
