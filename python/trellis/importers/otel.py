"""OpenTelemetry GenAI spans (OTLP/JSON) to contract v1.

Input: the collector's file exporter output (one ExportTraceServiceRequest
a line: resourceSpans -> scopeSpans -> spans, attributes as OTLP AnyValue
lists), or one such document. A span is a GenAI call when it has
`gen_ai.operation.name`, `gen_ai.system`, `gen_ai.provider.name`,
`gen_ai.request.model` or `llm.request.type`; the others are skipped and
counted. A GenAI span whose operation is not a chat/text completion
(embeddings...) is skipped too. Its messages are read in the first style
found, in this order:

1. `gen_ai.input.messages` / `gen_ai.output.messages` (current semantic
   conventions: JSON of messages made of typed parts), with
   `gen_ai.system_instructions`;
2. span events `gen_ai.system.message`, `gen_ai.user.message`,
   `gen_ai.assistant.message`, `gen_ai.tool.message`, `gen_ai.choice`
   (the event style: content in the event's attributes or its JSON body);
3. flattened attributes `gen_ai.prompt.N.role/content` and
   `gen_ai.completion.N.*` (OpenLLMetry), with `llm.usage.*`.

A position is the file's record (line) number times 100,000 plus the
span's number in it, so every span has its own quarantine position.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trellis.importers.common import (
    MESSAGES_ABSENT,
    MISSING_FIELD,
    ImportOptions,
    Unmappable,
    compact,
    from_nanos,
    millis_between,
    response_of,
    usage,
)
from trellis.importers.reading import NOT_AN_OBJECT, Bad, dumps, raw_records
from trellis.ingest import SourceItem

if TYPE_CHECKING:
    from trellis.importers import Stream

__all__ = ["map_span", "requests", "streams"]

#: Spans per file record a position leaves room for (see the module docstring).
SPANS_PER_RECORD = 100_000
_GENAI_MARKERS = (
    "gen_ai.operation.name",
    "gen_ai.system",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "llm.request.type",
)
_CHAT_OPERATIONS = {"chat", "text_completion", "completion", "generate_content", None}
_EVENT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_STATUS_ERROR = (2, "STATUS_CODE_ERROR")


def streams(paths: Sequence[Path], options: ImportOptions) -> Iterator[Stream]:
    from trellis.importers import Stream

    for path in paths:
        skipped: Counter[str] = Counter()
        yield Stream("requests", str(path), requests(path, options, skipped), skipped)


def requests(
    path: Path, options: ImportOptions, skipped: Counter[str] | None = None
) -> Iterator[SourceItem]:
    """The GenAI calls among the spans of an OTLP/JSON file; `skipped` counts the rest."""
    skipped = skipped if skipped is not None else Counter()
    for raw in raw_records(path):
        if isinstance(raw, Bad):
            yield SourceItem(raw.position * SPANS_PER_RECORD, raw.text, None, raw.reason)
            continue
        if not isinstance(raw.value, dict) or not isinstance(raw.value.get("resourceSpans"), list):
            yield SourceItem(raw.position * SPANS_PER_RECORD, raw.text, None, NOT_AN_OBJECT)
            continue
        number = 0
        for resource, span in _spans(raw.value):
            number += 1
            position = raw.position * SPANS_PER_RECORD + number
            if not isinstance(span, dict):
                yield SourceItem(position, dumps(span), None, NOT_AN_OBJECT)
                continue
            attributes = attribute_map(span.get("attributes"))
            if not any(marker in attributes for marker in _GENAI_MARKERS):
                skipped["non-GenAI spans"] += 1
                continue
            operation = attributes.get("gen_ai.operation.name") or attributes.get(
                "llm.request.type"
            )
            if operation not in _CHAT_OPERATIONS:
                skipped[f"GenAI {operation} spans"] += 1
                continue
            text = dumps(span)
            try:
                yield SourceItem(position, text, map_span(span, attributes, resource, options))
            except Unmappable as exc:
                yield SourceItem(position, text, None, exc.reason)


def _spans(document: Mapping[str, Any]) -> Iterator[tuple[dict[str, Any], Any]]:
    for resource_spans in document.get("resourceSpans") or []:
        if not isinstance(resource_spans, dict):
            continue
        resource = attribute_map(_dict(resource_spans.get("resource")).get("attributes"))
        for scope_spans in resource_spans.get("scopeSpans") or []:
            for span in _dict(scope_spans).get("spans") or []:
                yield resource, span


def attribute_map(attributes: Any) -> dict[str, Any]:
    """OTLP attributes ([{key, value: AnyValue}]) as a dict of plain values."""
    if not isinstance(attributes, list):
        return {}
    return {
        item["key"]: any_value(item.get("value"))
        for item in attributes
        if isinstance(item, dict) and isinstance(item.get("key"), str)
    }


def any_value(value: Any) -> Any:
    """An OTLP AnyValue as a plain value (int64 comes as a string in OTLP/JSON)."""
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return None
    if "doubleValue" in value:
        return value["doubleValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "arrayValue" in value:
        return [any_value(item) for item in _dict(value["arrayValue"]).get("values") or []]
    if "kvlistValue" in value:
        return attribute_map(_dict(value["kvlistValue"]).get("values"))
    return None


def map_span(
    span: Mapping[str, Any],
    attributes: Mapping[str, Any],
    resource: Mapping[str, Any],
    options: ImportOptions,
) -> dict[str, Any]:
    """One GenAI span as a contract v1 request record."""
    span_id, trace_id = span.get("spanId"), span.get("traceId")
    if not span_id or not span.get("startTimeUnixNano"):
        raise Unmappable(MISSING_FIELD, "a span needs spanId and startTimeUnixNano")
    created_at = from_nanos(span["startTimeUnixNano"])
    completed_at = from_nanos(span["endTimeUnixNano"]) if span.get("endTimeUnixNano") else None
    messages, reply, finish, style = _messages(span, attributes)
    status = _dict(span.get("status"))
    failed = status.get("code") in _STATUS_ERROR
    cached = attributes.get("gen_ai.usage.cache_read.input_tokens")
    usage_ = usage(
        _first(
            attributes,
            "gen_ai.usage.input_tokens",
            "gen_ai.usage.prompt_tokens",
            "llm.usage.prompt_tokens",
        ),
        _first(
            attributes,
            "gen_ai.usage.output_tokens",
            "gen_ai.usage.completion_tokens",
            "llm.usage.completion_tokens",
        ),
        cached if cached is not None else attributes.get("gen_ai.usage.cache_read_input_tokens"),
        cached_apart=cached is None and "gen_ai.usage.cache_read_input_tokens" in attributes,
    )
    model = _first(attributes, "gen_ai.request.model", "gen_ai.response.model") or "unknown"
    record = {
        "request_id": str(span_id),
        "created_at": created_at,
        "completed_at": completed_at,
        "tenant_id": options.tenant,
        "agent_id": options.agent or _string(resource.get("service.name")),
        "session_id": _first(attributes, "gen_ai.conversation.id", "session.id"),
        "trace_id": _string(trace_id),
        "model": model,
        "served_model": _string(attributes.get("gen_ai.response.model")),
        "provider": _first(attributes, "gen_ai.provider.name", "gen_ai.system"),
        "endpoint": _first(attributes, "server.address", "url.full"),
        "request": _request(messages, attributes),
        "response": None
        if failed
        else response_of(
            _string(attributes.get("gen_ai.response.id")), reply, finish, usage_, None
        ),
        "status": "error" if failed else "success",
        "error": compact(
            {
                "code": _string(attributes.get("error.type")),
                "message": _string(status.get("message")),
            }
        )
        or ({"message": "span status error"} if failed else None),
        "latency_ms": millis_between(created_at, completed_at),
        "metadata": compact(
            {
                "source": "otel",
                "span_name": _string(span.get("name")),
                "parent_span_id": _string(span.get("parentSpanId")) or None,
                "operation": _string(attributes.get("gen_ai.operation.name")),
                "message_style": style,
                "service_name": _string(resource.get("service.name")),
                "messages_absent": True if messages is MESSAGES_ABSENT else None,
            }
        ),
    }
    return compact(record)


def _request(messages: list[Any], attributes: Mapping[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"messages": messages}
    for name in ("temperature", "top_p", "max_tokens", "seed"):
        value = attributes.get(f"gen_ai.request.{name}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            request[name] = value
    stop = attributes.get("gen_ai.request.stop_sequences")
    if isinstance(stop, list) and stop:
        request["stop"] = stop
    return request


def _messages(
    span: Mapping[str, Any], attributes: Mapping[str, Any]
) -> tuple[list[Any], dict[str, Any] | None, str | None, str | None]:
    """(context, reply, finish reason, style) in the first style the span uses."""
    if "gen_ai.input.messages" in attributes or "gen_ai.output.messages" in attributes:
        return (*_semconv_messages(attributes), "attributes")
    events = [event for event in span.get("events") or [] if isinstance(event, dict)]
    if any(str(event.get("name", "")).startswith("gen_ai.") for event in events):
        return (*_event_messages(events), "events")
    if any(key.startswith(("gen_ai.prompt.", "gen_ai.completion.")) for key in attributes):
        return (*_flattened_messages(attributes), "flattened")
    return MESSAGES_ABSENT, None, None, None


def _semconv_messages(
    attributes: Mapping[str, Any],
) -> tuple[list[Any], dict[str, Any] | None, str | None]:
    context: list[Any] = []
    instructions = _parsed(attributes.get("gen_ai.system_instructions"))
    if isinstance(instructions, list) and instructions:
        context.append({"role": "system", "content": _parts_text(instructions)})
    for message in _parsed(attributes.get("gen_ai.input.messages")) or []:
        if isinstance(message, dict):
            context.append(_from_parts(message))
    outputs = [
        m for m in _parsed(attributes.get("gen_ai.output.messages")) or [] if isinstance(m, dict)
    ]
    reply = _from_parts(outputs[0]) if outputs else None
    finish = _string(outputs[0].get("finish_reason")) if outputs else None
    return context or MESSAGES_ABSENT, reply, finish


def _from_parts(message: Mapping[str, Any]) -> dict[str, Any]:
    """A semantic-conventions message (role, parts) as an OpenAI message."""
    parts = [part for part in message.get("parts") or [] if isinstance(part, dict)]
    result: dict[str, Any] = {"role": _string(message.get("role")) or "user"}
    texts = [part for part in parts if part.get("type") == "text"]
    result["content"] = _parts_text(texts) if texts else None
    calls = [
        {
            "id": _string(part.get("id")),
            "type": "function",
            "function": {
                "name": _string(part.get("name")),
                "arguments": _arguments(part.get("arguments")),
            },
        }
        for part in parts
        if part.get("type") == "tool_call"
    ]
    if calls:
        result["tool_calls"] = calls
    responses = [part for part in parts if part.get("type") == "tool_call_response"]
    if responses:
        result["role"] = "tool"
        result["tool_call_id"] = _string(responses[0].get("id"))
        response = responses[0].get("response")
        result["content"] = response if isinstance(response, str) else json.dumps(response)
    if _string(message.get("name")):
        result["name"] = message["name"]
    return result


def _parts_text(parts: list[Any]) -> str:
    return "".join(
        str(part.get("content", ""))
        for part in parts
        if isinstance(part, dict) and part.get("type", "text") == "text"
    )


def _event_messages(
    events: list[dict[str, Any]],
) -> tuple[list[Any], dict[str, Any] | None, str | None]:
    context: list[Any] = []
    reply: dict[str, Any] | None = None
    finish: str | None = None
    for event in events:
        name = event.get("name")
        attributes = attribute_map(event.get("attributes"))
        body = _parsed(attributes.get("gen_ai.event.content")) or {}
        body = body if isinstance(body, dict) else {}
        if name in _EVENT_ROLES:
            message = {"role": _EVENT_ROLES[str(name)], "content": _content(attributes, body)}
            if _EVENT_ROLES[str(name)] == "tool":
                message["tool_call_id"] = _string(attributes.get("id") or body.get("id"))
            context.append(compact(message) | {"content": message["content"]})
        elif name == "gen_ai.choice" and reply is None:
            inner = _parsed(attributes.get("message")) or body.get("message") or {}
            inner = inner if isinstance(inner, dict) else {}
            content = inner.get(
                "content", attributes.get("message.content", attributes.get("content"))
            )
            reply = {"role": "assistant", "content": _text(content)}
            finish = _string(attributes.get("finish_reason") or body.get("finish_reason"))
    return context or MESSAGES_ABSENT, reply, finish


def _content(attributes: Mapping[str, Any], body: Mapping[str, Any]) -> str | None:
    return _text(attributes.get("content", body.get("content")))


def _flattened_messages(
    attributes: Mapping[str, Any],
) -> tuple[list[Any], dict[str, Any] | None, str | None]:
    prompts = _indexed(attributes, "gen_ai.prompt.")
    completions = _indexed(attributes, "gen_ai.completion.")
    context = [
        compact({"role": fields.get("role") or "user", "tool_call_id": fields.get("tool_call_id")})
        | {"content": _text(fields.get("content"))}
        for fields in prompts
    ]
    reply = None
    finish = None
    if completions:
        first = completions[0]
        reply = {"role": first.get("role") or "assistant", "content": _text(first.get("content"))}
        finish = _string(first.get("finish_reason"))
    return context or MESSAGES_ABSENT, reply, finish


def _indexed(attributes: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """`prefix`N.field attributes as a list of {field: value}, in N order."""
    found: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        if not key.startswith(prefix):
            continue
        index, _, name = key[len(prefix) :].partition(".")
        if index.isdigit() and name:
            found.setdefault(int(index), {})[name] = value
    return [found[index] for index in sorted(found)]


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _arguments(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _parsed(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _first(attributes: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if attributes.get(name) is not None:
            return attributes[name]
    return None


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
