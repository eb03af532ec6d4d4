"""OpenAI fine-tuning rules for one example, so a bad row is reported, not uploaded.

The rules are those OpenAI's upload validation and its published format
checker apply to chat fine-tuning files (one JSON object a line):

- ``messages`` is a non-empty list of objects with a ``role`` among system,
  developer, user, assistant, tool (and the legacy function);
- only known keys: role, content, name, tool_calls, tool_call_id,
  function_call, weight; ``weight`` only on assistant turns, 0 or 1;
- ``content`` is a string (or a list of content parts); it may be null only
  for an assistant turn that calls tools;
- an assistant turn is never empty: it has content or tool calls;
- a tool call has an ``id``, ``type`` "function" and a ``function`` with a
  ``name`` and ``arguments`` that are a string of JSON;
- a tool turn answers a tool call made before it (``tool_call_id``);
- at least one assistant turn (there is something to learn).

Preference (DPO) examples use OpenAI's preference format: ``input`` with
``messages`` (the prompt, checked as above without the assistant rule), and
``preferred_output`` / ``non_preferred_output``, each a list of exactly one
assistant message.
"""

from __future__ import annotations

import json
from typing import Any

ROLES = {"system", "developer", "user", "assistant", "tool", "function"}
KEYS = {"role", "content", "name", "tool_calls", "tool_call_id", "function_call", "weight"}


def chat_problems(messages: Any, need_assistant: bool = True) -> list[str]:
    """Every rule the messages break (empty when the example is valid)."""
    if not isinstance(messages, list) or not messages:
        return ["messages is not a non-empty list"]
    problems: list[str] = []
    call_ids: set[str] = set()
    assistants = 0
    for index, message in enumerate(messages):
        where = f"message {index}"
        if not isinstance(message, dict):
            problems.append(f"{where} is not an object")
            continue
        role = message.get("role")
        if role not in ROLES:
            problems.append(f"{where} has role {role!r}")
            continue
        unknown = set(message) - KEYS
        if unknown:
            problems.append(f"{where} has unknown keys {sorted(unknown)}")
        if "weight" in message and (role != "assistant" or message["weight"] not in (0, 1)):
            problems.append(f"{where} has a weight other than 0 or 1 on an assistant turn")
        content = message.get("content")
        calls = message.get("tool_calls") or []
        if content is not None and not isinstance(content, str | list):
            problems.append(f"{where} content is neither text nor content parts")
        if role == "assistant":
            assistants += 1
            if not calls and not message.get("function_call") and not _has_text(content):
                problems.append(f"{where} is an empty assistant turn")
            problems.extend(_call_problems(where, calls, call_ids))
        elif content is None:
            problems.append(f"{where} ({role}) has no content")
        if role == "tool" and message.get("tool_call_id") not in call_ids:
            problems.append(f"{where} answers no earlier tool call")
    if need_assistant and assistants == 0:
        problems.append("no assistant turn")
    return problems


def preference_problems(example: dict[str, Any]) -> list[str]:
    problems = [
        f"input: {p}"
        for p in chat_problems(example.get("input", {}).get("messages"), need_assistant=False)
    ]
    for key in ("preferred_output", "non_preferred_output"):
        output = example.get(key)
        if not isinstance(output, list) or len(output) != 1:
            problems.append(f"{key} is not a list of one message")
            continue
        if output[0].get("role") != "assistant":
            problems.append(f"{key} is not an assistant message")
        problems.extend(f"{key}: {p}" for p in chat_problems(output, need_assistant=True))
    return problems


def _has_text(content: Any) -> bool:
    if isinstance(content, str):
        return content.strip() != ""
    if isinstance(content, list):
        return any(isinstance(part, dict) and str(part.get("text", "")).strip() for part in content)
    return False


def _call_problems(where: str, calls: Any, call_ids: set[str]) -> list[str]:
    if not isinstance(calls, list):
        return [f"{where} tool_calls is not a list"]
    problems = []
    for number, call in enumerate(calls):
        label = f"{where} tool call {number}"
        if not isinstance(call, dict) or not call.get("id"):
            problems.append(f"{label} has no id")
            continue
        call_ids.add(str(call["id"]))
        function = call.get("function")
        if call.get("type") != "function" or not isinstance(function, dict):
            problems.append(f"{label} is not a function call")
            continue
        if not function.get("name"):
            problems.append(f"{label} has no function name")
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            problems.append(f"{label} arguments are not a string")
            continue
        try:
            json.loads(arguments)
        except ValueError:
            problems.append(f"{label} arguments are not JSON")
    return problems
