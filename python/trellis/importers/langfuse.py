"""Langfuse observations and scores to contract v1 requests and feedback.

Input: the public API's JSON (`GET /api/public/observations`, `.../scores`:
a page `{data: [...], meta}`), an export of observations (a JSON array or
JSON Lines), or both mixed. An object with `type` is an observation; only
those of type GENERATION are calls (the others, spans and events, are
skipped and counted). An object with `name` and `value` and no `type` is a
score, one feedback record when it names an observation
(`observationId`); a trace-level score has no call to attach to and is
quarantined as `missing_field` (never dropped silently).
"""

from __future__ import annotations

import json
from collections import Counter
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
from trellis.importers.reading import Bad, Raw, dumps, raw_records
from trellis.ingest import SourceItem

__all__ = ["feedback", "map_generation", "map_score", "requests"]

#: Langfuse levels that mean the call failed.
_ERROR_LEVELS = ("ERROR",)
#: A score's source -> the contract's feedback source.
_SCORE_SOURCES = {"API": "auto", "EVAL": "judge", "ANNOTATION": "human"}


def requests(
    path: Path, options: ImportOptions, skipped: Counter[str] | None = None
) -> Iterator[SourceItem]:
    """A request record per GENERATION observation of `path`."""
    skipped = skipped if skipped is not None else Counter()
    for raw in _objects(path):
        if isinstance(raw, SourceItem):
            yield raw
            continue
        value = raw.value
        if "type" not in value:
            continue  # a score: read by `feedback`
        if value.get("type") != "GENERATION":
            skipped[f"{value.get('type')} observations"] += 1
            continue
        try:
            yield SourceItem(raw.position, raw.text, map_generation(value, options))
        except Unmappable as exc:
            yield SourceItem(raw.position, raw.text, None, exc.reason)


def feedback(path: Path, options: ImportOptions) -> Iterator[SourceItem]:
    """A feedback record per observation-level score of `path`."""
    for raw in _objects(path):
        if isinstance(raw, SourceItem):
            continue  # reported by `requests` already
        value = raw.value
        if "type" in value or "value" not in value or "name" not in value:
            continue
        try:
            yield SourceItem(raw.position, raw.text, map_score(value, options))
        except Unmappable as exc:
            yield SourceItem(raw.position, raw.text, None, exc.reason)


def _objects(path: Path) -> Iterator[Raw | SourceItem]:
    """The file's objects; an API page (a line holding `data`) stands for its items,
    numbered `line * 1000 + index`."""
    for raw in raw_records(path, "data.item"):
        if isinstance(raw, Bad):
            yield bad_item(raw, raw.reason)
        elif not isinstance(raw.value, dict):
            yield not_object(raw)
        elif isinstance(raw.value.get("data"), list) and "type" not in raw.value:
            for number, item in enumerate(raw.value["data"], start=1):
                position = raw.position * 1000 + number
                if isinstance(item, dict):
                    yield Raw(position, dumps(item), item)
                else:
                    yield SourceItem(position, dumps(item), None, "not_an_object")
        else:
            yield raw


def map_generation(observation: Mapping[str, Any], options: ImportOptions) -> dict[str, Any]:
    """One GENERATION observation as a contract v1 request record."""
    created_at = to_rfc3339(observation.get("startTime"))
    if created_at is None or not observation.get("id"):
        raise Unmappable(MISSING_FIELD, "an observation needs id and startTime")
    completed_at = to_rfc3339(observation.get("endTime"))
    first_token_at = to_rfc3339(observation.get("completionStartTime"))
    failed = observation.get("level") in _ERROR_LEVELS
    messages = _messages(observation.get("input"))
    usage_ = _usage(observation)
    reply = _reply(observation.get("output"))
    response = None
    if not failed and (reply is not None or usage_):
        response = compact(
            {
                "id": str(observation["id"]),
                "choices": [{"index": 0, "message": reply}] if reply is not None else None,
                "usage": usage_,
            }
        )
    cost = _cost(observation)
    parameters = observation.get("modelParameters")
    request: dict[str, Any] = {"messages": messages}
    for name, value in parameters.items() if isinstance(parameters, dict) else []:
        if name in ("temperature", "top_p", "max_tokens", "seed", "n", "stop"):
            request[name] = _number_or_self(value)
    record = {
        "request_id": str(observation["id"]),
        "created_at": created_at,
        "completed_at": completed_at,
        "tenant_id": options.tenant,
        "agent_id": options.agent or _string(observation.get("name")),
        "session_id": _string(observation.get("sessionId")),
        "trace_id": _string(observation.get("traceId")),
        "model": _string(observation.get("model")) or "unknown",
        "request": request,
        "response": response,
        "status": "error" if failed else "success",
        "error": {"message": _string(observation.get("statusMessage")) or "error"}
        if failed
        else None,
        "latency_ms": millis_between(created_at, completed_at),
        "ttft_ms": millis_between(created_at, first_token_at),
        "cost_usd": cost,
        "prompt": compact(
            {
                "template_id": _string(observation.get("promptName")),
                "version": str(observation["promptVersion"])
                if observation.get("promptVersion") is not None
                else None,
            }
        )
        or None,
        "metadata": compact(
            {
                "source": "langfuse",
                "observation_name": _string(observation.get("name")),
                "parent_observation_id": _string(observation.get("parentObservationId")),
                "user_id": _string(observation.get("userId")),
                "level": _string(observation.get("level")),
                "langfuse_metadata": observation.get("metadata") or None,
                "messages_absent": True if messages is MESSAGES_ABSENT else None,
            }
        ),
    }
    return compact(record)


def map_score(score: Mapping[str, Any], options: ImportOptions) -> dict[str, Any]:
    """One observation-level score as a feedback record: a BOOLEAN score is a rating
    (1 -> +1, 0 -> -1), a NUMERIC score in 0..10 a completion_quality; the outcome is
    `success` unless a boolean says no (`user_rejected`)."""
    if not score.get("id") or not _string(score.get("observationId")):
        raise Unmappable(MISSING_FIELD, "a score needs id and observationId")
    created_at = to_rfc3339(score.get("timestamp") or score.get("createdAt"))
    if created_at is None:
        raise Unmappable(MISSING_FIELD, "a score needs timestamp")
    value = score.get("value")
    data_type = score.get("dataType")
    rating = quality = None
    if data_type == "BOOLEAN" and value in (0, 1):
        rating = 1 if value == 1 else -1
    elif isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 10:
        quality = value
    record = {
        "feedback_id": str(score["id"]),
        "request_id": str(score["observationId"]),
        "created_at": created_at,
        "tenant_id": options.tenant,
        "outcome": "user_rejected" if rating == -1 else "success",
        "rating": rating,
        "completion_quality": quality,
        "source": _SCORE_SOURCES.get(str(score.get("source")), "auto"),
        "comment": _string(score.get("comment")),
        "metadata": compact(
            {
                "source": "langfuse",
                "score_name": _string(score.get("name")),
                "score_value": value if quality is None and rating is None else None,
                "string_value": _string(score.get("stringValue")),
                "data_type": _string(data_type),
                "trace_id": _string(score.get("traceId")),
            }
        ),
    }
    return compact(record)


def _messages(value: Any) -> list[Any]:
    """Langfuse's input: a list of messages, {messages: [...]}, or a prompt string."""
    if isinstance(value, dict) and isinstance(value.get("messages"), list):
        value = value["messages"]
    if (
        isinstance(value, list)
        and value
        and all(isinstance(m, dict) and "role" in m for m in value)
    ):
        return [_message(m) for m in value]
    if isinstance(value, str) and value:
        return [{"role": "user", "content": value}]
    if value is not None and value != [] and value != {}:
        return [{"role": "user", "content": json.dumps(value, ensure_ascii=False)}]
    return MESSAGES_ABSENT


def _message(message: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(message)
    content = result.get("content")
    if content is not None and not isinstance(content, str | list):
        result["content"] = json.dumps(content, ensure_ascii=False)
    return result


def _reply(value: Any) -> dict[str, Any] | None:
    """Langfuse's output: a message, {choices: [...]}, or a completion string."""
    if isinstance(value, dict) and isinstance(value.get("choices"), list) and value["choices"]:
        value = _mapping(value["choices"][0]).get("message")
    if isinstance(value, dict) and ("content" in value or "tool_calls" in value):
        reply = _message(value)
        reply["role"] = reply.get("role") or "assistant"
        return reply
    if isinstance(value, str):
        return {"role": "assistant", "content": value}
    if value is not None:
        return {"role": "assistant", "content": json.dumps(value, ensure_ascii=False)}
    return None


def _usage(observation: Mapping[str, Any]) -> dict[str, Any] | None:
    """usageDetails (or the older `usage`) in the contract's convention: Langfuse
    counts cache reads apart from `input` (its `input_cached_tokens`,
    `cache_read_input_tokens`), so they are added to the prompt count."""
    details = _mapping(observation.get("usageDetails")) or _mapping(observation.get("usage"))
    cached = sum(
        value
        for key, value in details.items()
        if isinstance(value, int) and ("cache_read" in key or "cached" in key)
    )
    return usage(
        details.get("input", details.get("promptTokens")),
        details.get("output", details.get("completionTokens")),
        cached or None,
        cached_apart=True,
    )


def _cost(observation: Mapping[str, Any]) -> float | None:
    details = _mapping(observation.get("costDetails"))
    for value in (
        details.get("total"),
        observation.get("calculatedTotalCost"),
        _mapping(observation.get("usage")).get("totalCost"),
    ):
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
    return None


def _number_or_self(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
