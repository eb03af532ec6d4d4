"""Training examples in OpenAI chat format, de-identified, for the dataset models.

Called by the dbt Python models of models/intermediate/datasets (thin calls,
no logic there). A trajectory's messages are its leaf request's context (the
whole conversation up to the leaf, as the gateway logged it) followed by the
leaf's reply; a preference example's prompt is the context both answers
share and its chosen and rejected turns are the two replies. Every string is
de-identified with one Redactor per example (placeholders stable within it);
the detectors' findings in the assistant turns before redaction are kept,
since an answer that leaked personal data or a secret is a suppression
candidate.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from trellis.datasets.deid import Redactor, find

Message = dict[str, Any]


def openai_message(raw: Any) -> Message | None:
    """A logged message in OpenAI's chat format: content as text, tool arguments as a string."""
    if not isinstance(raw, dict) or not raw.get("role"):
        return None
    message: Message = {"role": raw["role"], "content": _text(raw.get("content"))}
    calls = raw.get("tool_calls") or []
    if calls:
        message["tool_calls"] = [
            {
                "id": str(call.get("id") or f"call_{index}"),
                "type": "function",
                "function": {
                    "name": str((call.get("function") or {}).get("name") or ""),
                    "arguments": _arguments((call.get("function") or {}).get("arguments")),
                },
            }
            for index, call in enumerate(calls)
        ]
        if message["content"] == "":
            message["content"] = None
    for key in ("name", "tool_call_id"):
        if raw.get(key):
            message[key] = str(raw[key])
    return message


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return json.dumps(content)


def _arguments(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments if arguments is not None else {})


def _parse(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def conversation(messages_json: Any, reply_json: Any) -> list[Message]:
    context = _parse(messages_json) or []
    messages = [m for m in (openai_message(raw) for raw in context) if m is not None]
    reply = openai_message(_parse(reply_json))
    if reply is not None:
        messages.append(reply)
    return messages


def leaks(messages: Iterable[Message]) -> list[str]:
    """Detector types found in assistant turns (content and tool call arguments)."""
    found: set[str] = set()
    for message in messages:
        if message.get("role") != "assistant":
            continue
        texts = [message.get("content") or ""]
        texts += [c["function"]["arguments"] for c in message.get("tool_calls", [])]
        for text in texts:
            found.update(span.detector_type for span in find(text))
    return sorted(found)


TRAJECTORY_SCHEMA = pa.schema(
    [
        ("trajectory_id", pa.string()),
        ("messages_json", pa.string()),
        ("message_count", pa.int64()),
        ("leaked_types", pa.string()),
        ("replaced_values", pa.int64()),
        ("is_reply_empty", pa.bool_()),
    ]
)


def trajectory_examples(rows: Iterable[tuple[str, Any, Any]]) -> pa.Table:
    """(trajectory_id, leaf messages JSON, leaf reply JSON) -> de-identified examples."""
    out: dict[str, list[Any]] = {name: [] for name in TRAJECTORY_SCHEMA.names}
    for trajectory_id, messages_json, reply_json in rows:
        messages = conversation(messages_json, reply_json)
        redactor = Redactor()
        redacted = redactor.value(messages)
        reply = messages[-1] if messages and messages[-1]["role"] == "assistant" else None
        out["trajectory_id"].append(trajectory_id)
        out["messages_json"].append(json.dumps(redacted, ensure_ascii=False))
        out["message_count"].append(len(messages))
        out["leaked_types"].append(json.dumps(leaks(messages)))
        out["replaced_values"].append(sum(redactor.replaced().values()))
        empty = reply is None or (
            not (reply.get("content") or "").strip() and not reply.get("tool_calls")
        )
        out["is_reply_empty"].append(empty)
    return pa.table(out, schema=TRAJECTORY_SCHEMA)


PAIR_SCHEMA = pa.schema(
    [
        ("pair_id", pa.string()),
        ("prompt_json", pa.string()),
        ("chosen_json", pa.string()),
        ("rejected_json", pa.string()),
    ]
)


def preference_examples(rows: Iterable[tuple[str, Any, Any, Any]]) -> pa.Table:
    """(pair_id, shared context JSON, chosen reply JSON, rejected reply JSON) -> de-identified."""
    out: dict[str, list[Any]] = {name: [] for name in PAIR_SCHEMA.names}
    for pair_id, context_json, chosen_json, rejected_json in rows:
        prompt = conversation(context_json, None)
        chosen = conversation(None, chosen_json)
        rejected = conversation(None, rejected_json)
        redactor = Redactor()
        out["pair_id"].append(pair_id)
        out["prompt_json"].append(json.dumps(redactor.value(prompt), ensure_ascii=False))
        out["chosen_json"].append(json.dumps(redactor.value(chosen), ensure_ascii=False))
        out["rejected_json"].append(json.dumps(redactor.value(rejected), ensure_ascii=False))
    return pa.table(out, schema=PAIR_SCHEMA)
