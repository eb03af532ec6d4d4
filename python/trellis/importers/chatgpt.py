"""A ChatGPT data export's `conversations.json` to contract v1.

The file is one JSON array of conversations, read one conversation at a
time (reading.raw_records, ijson). A conversation's `mapping` is a tree of
nodes ({id, message, parent, children}); each message that an assistant
wrote as text to the user (author.role `assistant`, recipient `all`, text
content) is one call. Its context is the visible messages on the path from
the root to it (system, user and assistant text; hidden system messages,
tool traffic and non-text content are left out, the same way for every
path, so a child's context is always its parent's context plus its reply).
Regenerations are siblings in the tree, hence calls with the same context:
lineage rebuilds them as one response group. No parent id is written: the
warehouse rebuilds the tree from content alone.

The position of a call is its conversation's number in the array times
10,000 plus its number within the conversation.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from trellis.importers.common import (
    MISSING_FIELD,
    ImportOptions,
    bad_item,
    compact,
    from_epoch,
    not_object,
)
from trellis.importers.reading import Bad, dumps, raw_records
from trellis.ingest import SourceItem

__all__ = ["requests"]

#: Calls per conversation a position leaves room for.
CALLS_PER_CONVERSATION = 10_000
_TEXT_TYPES = ("text", "multimodal_text")


def requests(path: Path, options: ImportOptions) -> Iterator[SourceItem]:
    """One call per assistant text message of each conversation of `path`."""
    for raw in raw_records(path):
        if isinstance(raw, Bad):
            yield bad_item(raw, raw.reason)
            continue
        if not isinstance(raw.value, dict):
            yield not_object(raw)
            continue
        conversation = raw.value
        mapping = conversation.get("mapping")
        if not isinstance(mapping, dict) or not _conversation_id(conversation):
            yield SourceItem(raw.position * CALLS_PER_CONVERSATION, raw.text, None, MISSING_FIELD)
            continue
        for number, (node, record) in enumerate(_calls(conversation, mapping, options), start=1):
            position = raw.position * CALLS_PER_CONVERSATION + number
            if record is None:
                yield SourceItem(position, dumps(node), None, MISSING_FIELD)
            else:
                yield SourceItem(position, dumps(node), record)


def _conversation_id(conversation: Mapping[str, Any]) -> str | None:
    found = conversation.get("conversation_id") or conversation.get("id")
    return found if isinstance(found, str) and found else None


def _calls(
    conversation: Mapping[str, Any], mapping: Mapping[str, Any], options: ImportOptions
) -> Iterator[tuple[Mapping[str, Any], dict[str, Any] | None]]:
    """(node, record) of each assistant text message, walking the tree depth first
    from its roots, children in their listed order (the order ChatGPT shows)."""
    conversation_id = _conversation_id(conversation)
    default_model = conversation.get("default_model_slug")
    started = conversation.get("create_time")
    roots = [
        key
        for key, node in mapping.items()
        if isinstance(node, dict) and node.get("parent") not in mapping
    ]
    # an explicit stack: a long conversation is deeper than Python's recursion limit
    stack: list[tuple[str, list[dict[str, Any]]]] = [(key, []) for key in reversed(roots)]
    seen: set[str] = set()
    while stack:
        key, context = stack.pop()
        node = mapping.get(key)
        if key in seen or not isinstance(node, dict):
            continue
        seen.add(key)
        message = node.get("message")
        visible = _visible(message)
        if visible is not None and visible["role"] == "assistant" and _to_user(node["message"]):
            yield (
                node,
                _record(
                    conversation_id,
                    node["message"],
                    context,
                    visible,
                    default_model,
                    started,
                    options,
                ),
            )
        below = [*context, visible] if visible is not None else context
        children = [child for child in node.get("children") or [] if isinstance(child, str)]
        stack.extend((child, below) for child in reversed(children))


def _visible(message: Any) -> dict[str, Any] | None:
    """The message as an OpenAI message when it is visible text, else None."""
    if not isinstance(message, dict):
        return None
    role = _mapping(message.get("author")).get("role")
    content = _mapping(message.get("content"))
    if (
        role not in ("system", "user", "assistant")
        or content.get("content_type") not in _TEXT_TYPES
    ):
        return None
    metadata = _mapping(message.get("metadata"))
    if metadata.get("is_visually_hidden_from_conversation"):
        return None
    text = "".join(part for part in content.get("parts") or [] if isinstance(part, str))
    if role == "system" and not text:
        return None
    return {"role": role, "content": text}


def _to_user(message: Mapping[str, Any]) -> bool:
    return message.get("recipient", "all") == "all"


def _record(
    conversation_id: str | None,
    message: Mapping[str, Any],
    context: list[dict[str, Any]],
    reply: dict[str, Any],
    default_model: Any,
    started: Any,
    options: ImportOptions,
) -> dict[str, Any] | None:
    """The call's record; None when neither the message nor the conversation has a time."""
    metadata = _mapping(message.get("metadata"))
    created = message.get("create_time")
    created = created if isinstance(created, int | float) else started
    model = metadata.get("model_slug") or default_model or "chatgpt"
    finish = _mapping(metadata.get("finish_details")).get("type")
    record: dict[str, Any] = {
        "request_id": str(message.get("id")),
        "created_at": from_epoch(created) if isinstance(created, int | float) else None,
        "tenant_id": options.tenant,
        "agent_id": options.agent or "chatgpt",
        "session_id": conversation_id,
        "model": str(model),
        "provider": "openai",
        "request": {"messages": context or [{"role": "user", "content": ""}]},
        "response": {
            "id": str(message.get("id")),
            "choices": [
                compact(
                    {
                        "index": 0,
                        "message": reply,
                        "finish_reason": {"stop": "stop", "max_tokens": "length"}.get(str(finish)),
                    }
                )
            ],
        },
        "status": "success",
        "metadata": compact(
            {
                "source": "chatgpt",
                "conversation_id": conversation_id,
                "message_status": message.get("status"),
            }
        ),
    }
    return compact(record) if record["created_at"] is not None else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
