"""LiteLLM logs to contract v1: StandardLoggingPayload, and LiteLLM_SpendLogs rows.

A StandardLoggingPayload is what LiteLLM's custom loggers, bucket logging
(S3/GCS) and generic API logger write, one JSON object per call (JSON
Lines, a JSON array, or one object). A LiteLLM_SpendLogs row is one row of
the proxy's spend table: from a CSV or JSON export, or read straight from
its PostgreSQL (`spend_log_rows`). A record is a spend log row when it has
`request_id` and `spend` (a payload has `id` and `response_cost`).
The field-by-field mapping is in docs/importers.md.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from trellis.importers.common import (
    MESSAGES_ABSENT,
    MISSING_FIELD,
    ImportOptions,
    Unmappable,
    bad_item,
    compact,
    millis_between,
    not_object,
    to_rfc3339,
    usage,
)
from trellis.importers.reading import Bad, open_binary, raw_records
from trellis.ingest import SourceItem

__all__ = ["map_payload", "map_spend_log", "requests", "spend_log_rows"]

#: Request parameters the contract keeps (section 1, `request`).
REQUEST_PARAMETERS = (
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "n",
    "stop",
    "tools",
    "tool_choice",
    "response_format",
)
#: LiteLLM's key/team/user metadata -> the identity fields of the tenant and agent rules.
_IDENTITY_KEYS = {
    "team_alias": "user_api_key_team_alias",
    "team_id": "user_api_key_team_id",
    "org_id": "user_api_key_org_id",
    "key_alias": "user_api_key_alias",
    "key_hash": "user_api_key_hash",
    "user_id": "user_api_key_user_id",
    "end_user": "user_api_key_end_user_id",
}
#: Where a session id may be: the record, its metadata, and the metadata the caller sent.
_SESSION_KEYS = ("session_id", "litellm_session_id")


def requests(path: Path, options: ImportOptions) -> Iterator[SourceItem]:
    """The calls in a LiteLLM file: payloads or spend log rows, JSON(L) or CSV."""
    if path.suffix.lower() == ".csv" or path.name.lower().endswith(".csv.gz"):
        yield from _csv_items(path, options)
        return
    for raw in raw_records(path):
        if isinstance(raw, Bad):
            yield bad_item(raw, raw.reason)
        elif not isinstance(raw.value, dict):
            yield not_object(raw)
        else:
            yield _item(raw.position, raw.text, raw.value, options)


def _item(position: int, text: str, value: Mapping[str, Any], options: ImportOptions) -> SourceItem:
    try:
        if "spend" in value and "request_id" in value:
            record = map_spend_log(value, options)
        else:
            record = map_payload(value, options)
    except Unmappable as exc:
        return SourceItem(position, text, None, exc.reason)
    return SourceItem(position, text, record)


def map_payload(payload: Mapping[str, Any], options: ImportOptions) -> dict[str, Any]:
    """One StandardLoggingPayload as a contract v1 request record."""
    metadata = _mapping(payload.get("metadata"))
    identity = _identity(metadata, payload.get("end_user"))
    created_at = to_rfc3339(payload.get("startTime"))
    if created_at is None or not payload.get("id"):
        raise Unmappable(MISSING_FIELD, "a payload needs id and startTime")
    completed_at = to_rfc3339(payload.get("endTime"))
    first_token_at = to_rfc3339(payload.get("completionStartTime"))
    response = payload.get("response")
    usage_ = _usage(
        _mapping(response).get("usage") if isinstance(response, dict) else None,
        payload.get("prompt_tokens"),
        payload.get("completion_tokens"),
    )
    failed = payload.get("status") == "failure"
    error_info = _mapping(payload.get("error_information"))
    record = {
        "request_id": str(payload["id"]),
        "created_at": created_at,
        "completed_at": completed_at,
        "tenant_id": options.tenant_of(identity),
        "agent_id": options.agent_of(identity),
        "session_id": _session(payload, metadata),
        "trace_id": _string(payload.get("trace_id")),
        "model": _model(payload),
        "served_model": _served_model(payload, response),
        "provider": _string(payload.get("custom_llm_provider")),
        "endpoint": _string(payload.get("api_base")),
        "request": _request(payload.get("messages"), payload.get("model_parameters")),
        "response": None if failed else _response(response, usage_, payload.get("id")),
        "status": _status(failed, error_info),
        "error": _error(failed, error_info, payload.get("error_str")),
        "latency_ms": _elapsed(
            payload.get("startTime"), payload.get("endTime"), created_at, completed_at
        ),
        "ttft_ms": _elapsed(
            payload.get("startTime"), payload.get("completionStartTime"), created_at, first_token_at
        )
        if payload.get("stream")
        else None,
        "cost_usd": _number(payload.get("response_cost")),
        "metadata": _metadata(payload, metadata, identity, payload.get("messages")),
    }
    return compact(record)


def map_spend_log(row: Mapping[str, Any], options: ImportOptions) -> dict[str, Any]:
    """One LiteLLM_SpendLogs row (JSON columns decoded or as JSON text) as a request record."""
    metadata = _mapping(_json(row.get("metadata")))
    identity = _identity(metadata, row.get("end_user"))
    identity.setdefault("team_id", _string(row.get("team_id")))
    identity.setdefault("org_id", _string(row.get("organization_id")))
    if not identity.get("user_id"):
        identity["user_id"] = _string(row.get("user"))
    created_at = to_rfc3339(row.get("startTime"))
    if created_at is None or not row.get("request_id"):
        raise Unmappable(MISSING_FIELD, "a spend log row needs request_id and startTime")
    completed_at = to_rfc3339(row.get("endTime"))
    first_token_at = to_rfc3339(row.get("completionStartTime"))
    response = _json(row.get("response"))
    extra = _mapping(metadata.get("additional_usage_values"))
    usage_ = _usage(
        {**extra, **_mapping(_mapping(response).get("usage"))} or None,
        row.get("prompt_tokens"),
        row.get("completion_tokens"),
    )
    status = row.get("status") or metadata.get("status")
    failed = status == "failure"
    error_info = _mapping(metadata.get("error_information"))
    messages = _json(row.get("messages"))
    record = {
        "request_id": str(row["request_id"]),
        "created_at": created_at,
        "completed_at": completed_at,
        "tenant_id": options.tenant_of(identity),
        "agent_id": options.agent_of(identity),
        "session_id": _string(row.get("session_id")) or _session(row, metadata),
        "trace_id": _string(metadata.get("trace_id")),
        "model": _string(row.get("model_group")) or _string(row.get("model")) or "unknown",
        "served_model": _string(row.get("model")),
        "provider": _string(row.get("custom_llm_provider")),
        "endpoint": _string(row.get("api_base")),
        "request": _request(messages, _mapping(_json(row.get("proxy_server_request")))),
        "response": None if failed else _response(response, usage_, row.get("request_id")),
        "status": _status(failed, error_info),
        "error": _error(failed, error_info, None),
        "latency_ms": millis_between(created_at, completed_at),
        "ttft_ms": _ttft(created_at, first_token_at, True),
        "cost_usd": _number(row.get("spend")),
        "metadata": compact(
            {
                **_metadata(row, metadata, identity, messages),
                "cache_hit": _bool(row.get("cache_hit")),
                "call_type": _string(row.get("call_type")),
                "request_tags": _json(row.get("request_tags")) or None,
            }
        ),
    }
    return compact(record)


def spend_log_rows(dsn: str, options: ImportOptions) -> tuple[str, Iterator[SourceItem]]:
    """The rows of LiteLLM's PostgreSQL table "LiteLLM_SpendLogs", read-only, in one
    server-side cursor (streamed, never all in memory), with a name for the source."""
    import psycopg
    from psycopg.rows import dict_row

    try:
        connection = psycopg.connect(dsn, autocommit=False)
    except psycopg.Error as exc:
        raise _connection_error(exc) from None
    info = connection.info
    source = f"postgres://{info.host}:{info.port}/{info.dbname}/LiteLLM_SpendLogs"

    def items() -> Iterator[SourceItem]:
        with connection:
            connection.read_only = True
            try:
                with connection.cursor("trellis_spend_logs", row_factory=dict_row) as cursor:
                    cursor.itersize = 5000
                    cursor.execute(
                        'select * from "LiteLLM_SpendLogs" order by "startTime", request_id'
                    )
                    for position, row in enumerate(cursor, start=1):
                        text = json.dumps(row, default=str, ensure_ascii=False)
                        yield _item(position, text, row, options)
            except psycopg.Error as exc:  # no such table, no permission...
                raise _connection_error(exc) from None

    return source, items()


def _connection_error(exc: Exception) -> Exception:
    from trellis.errors import TrellisError

    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return TrellisError(f"cannot read LiteLLM's PostgreSQL: {first}")


def _csv_items(path: Path, options: ImportOptions) -> Iterator[SourceItem]:
    with open_binary(path) as binary, io.TextIOWrapper(binary, "utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        position = 0
        for row in reader:
            position += 1
            buffer = io.StringIO()
            csv.writer(buffer).writerow(row.values())
            text = buffer.getvalue().rstrip("\r\n")
            if None in row:  # more cells than the header names
                yield SourceItem(position, text, None, "wrong_type")
                continue
            values = {key: (value if value != "" else None) for key, value in row.items()}
            yield _item(position, text, values, options)


def _identity(metadata: Mapping[str, Any], end_user: Any) -> dict[str, Any]:
    identity = {name: _string(metadata.get(key)) for name, key in _IDENTITY_KEYS.items()}
    if not identity.get("end_user"):
        identity["end_user"] = _string(end_user)
    return identity


def _session(record: Mapping[str, Any], metadata: Mapping[str, Any]) -> str | None:
    places = (
        record,
        metadata,
        _mapping(metadata.get("requester_metadata")),
        _mapping(metadata.get("spend_logs_metadata")),
    )
    for place in places:
        for key in _SESSION_KEYS:
            found = _string(place.get(key))
            if found:
                return found
    return None


def _model(payload: Mapping[str, Any]) -> str:
    return _string(payload.get("model_group")) or _string(payload.get("model")) or "unknown"


def _served_model(payload: Mapping[str, Any], response: Any) -> str | None:
    if isinstance(response, dict) and _string(response.get("model")):
        return _string(response.get("model"))
    hidden = _mapping(payload.get("hidden_params"))
    return _string(hidden.get("litellm_model_name")) or _string(payload.get("model"))


def _request(messages: Any, parameters: Any) -> dict[str, Any]:
    request: dict[str, Any] = {"messages": _messages(messages)}
    params = _mapping(parameters)
    for name in REQUEST_PARAMETERS:
        if params.get(name) is not None:
            request[name] = params[name]
    return request


def _messages(messages: Any) -> list[Any]:
    """The request's messages: a list as is; a prompt string as one user message; a
    dict holding `messages` as those; else (not logged) the placeholder."""
    if isinstance(messages, str) and messages:
        return [{"role": "user", "content": messages}]
    if isinstance(messages, dict):
        messages = messages.get("messages")
    if isinstance(messages, list) and messages:
        return messages
    return MESSAGES_ABSENT


def _response(
    response: Any, usage_: dict[str, Any] | None, request_id: Any
) -> dict[str, Any] | None:
    """The response body with usage in the contract's convention. A text response
    becomes one assistant message; a call logged without its response keeps its usage."""
    if isinstance(response, str) and response:
        body: dict[str, Any] = {
            "id": str(request_id),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": response}}],
        }
    elif isinstance(response, dict) and response.get("choices"):
        body = dict(response)
    else:
        body = {}
    if usage_:
        body["usage"] = usage_
    return body or None


def _usage(found: Any, prompt: Any, completion: Any) -> dict[str, Any] | None:
    """Usage in the contract's convention. `prompt_tokens_details.cached_tokens` is
    already part of the prompt count (OpenAI, and LiteLLM's own Usage); a
    `cache_read_input_tokens` without it is counted apart (Anthropic), so added."""
    found = _mapping(found)
    prompt = found.get("prompt_tokens", prompt)
    completion = found.get("completion_tokens", completion)
    details = _mapping(found.get("prompt_tokens_details"))
    if details.get("cached_tokens") is not None:
        result = usage(prompt, completion, details.get("cached_tokens"))
    else:
        result = usage(prompt, completion, found.get("cache_read_input_tokens"), cached_apart=True)
    reasoning = _mapping(found.get("completion_tokens_details")).get("reasoning_tokens")
    if result is not None and isinstance(reasoning, int) and reasoning > 0:
        result["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return result


def _status(failed: bool, error_info: Mapping[str, Any]) -> str:
    if not failed:
        return "success"
    error_class = str(error_info.get("error_class") or "")
    return "timeout" if "Timeout" in error_class else "error"


def _error(failed: bool, error_info: Mapping[str, Any], error_str: Any) -> dict[str, Any] | None:
    if not failed:
        return None
    code = _string(error_info.get("error_code"))
    message = _string(error_info.get("error_message")) or _string(error_str)
    error = compact(
        {
            "code": _string(error_info.get("error_class")) or code,
            "message": message,
            "http_status": int(code) if code and code.isdigit() else None,
        }
    )
    return error or {"message": "failure"}


def _elapsed(start: Any, end: Any, start_at: str | None, end_at: str | None) -> float | None:
    """Milliseconds between two source times: from the epoch seconds themselves when
    both are numbers (no round trip through text), else from their RFC 3339 form."""
    if type(start) is float and type(end) is float:
        millis = round((end - start) * 1000, 3)
        return millis if millis >= 0 else None
    return millis_between(start_at, end_at)


def _ttft(created_at: str | None, first_token_at: str | None, stream: Any) -> float | None:
    """Time to first token: only for streamed calls (LiteLLM sets completionStartTime
    to endTime for the others, which is not a first token)."""
    return millis_between(created_at, first_token_at) if stream else None


def _metadata(
    record: Mapping[str, Any],
    metadata: Mapping[str, Any],
    identity: Mapping[str, Any],
    messages: Any,
) -> dict[str, Any]:
    kept = {
        "source": "litellm",
        "call_type": _string(record.get("call_type")),
        "model_id": _string(record.get("model_id")),
        "model_group": _string(record.get("model_group")),
        "cache_hit": _bool(record.get("cache_hit")),
        "cache_key": _string(record.get("cache_key")),
        "saved_cache_cost_usd": _number(record.get("saved_cache_cost")),
        "request_tags": record.get("request_tags") or None,
        "team_id": identity.get("team_id"),
        "team_alias": identity.get("team_alias"),
        "org_id": identity.get("org_id"),
        "key_alias": identity.get("key_alias"),
        "user_id": identity.get("user_id"),
        "end_user": identity.get("end_user"),
        "spend_logs_metadata": metadata.get("spend_logs_metadata") or None,
        "messages_absent": True if _messages(messages) is MESSAGES_ABSENT else None,
    }
    return compact(kept)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _json(value: Any) -> Any:
    """A JSON column: decoded already (JSON, psycopg), or JSON text (CSV)."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _string(value: Any) -> str | None:
    kind = type(value)
    if kind is str:
        return value or None
    if kind is int or kind is float:
        return str(value)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if number >= 0 else None
    return None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None
