"""Hand-written request records for each edge case of contract section 3.

Each case lives in its own tenant (or id prefix) so one warehouse holds them
all; `EXPECTED` says where every node must land (parent, root, depth, orphan).
"""

from __future__ import annotations

from typing import Any

LOOP_TURNS = 1000

Message = dict[str, Any]


def _at(second: float) -> str:
    whole = int(second)
    micros = round((second - whole) * 1_000_000)
    minutes, seconds = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    return f"2026-03-01T{hours:02d}:{minutes:02d}:{seconds:02d}.{micros:06d}Z"


def _record(
    request_id: str,
    second: float,
    messages: list[Message],
    reply: Message | None,
    tenant: str = "edge",
    **extra: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "request_id": request_id,
        "created_at": _at(second),
        "tenant_id": tenant,
        "agent_id": "edge-agent",
        "model": "gpt-4o-mini",
        "request": {"messages": messages},
    }
    if reply is not None:
        record["response"] = {
            "id": f"resp-{request_id}",
            "choices": [{"message": reply, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2},
        }
    record.update(extra)
    return record


def user(text: str) -> Message:
    return {"role": "user", "content": text}


def assistant(text: str | None, **extra: Any) -> Message:
    return {"role": "assistant", "content": text, **extra}


SHELL_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "shell", "arguments": '{"cmd": "ls"}'},
}


def records() -> list[dict[str, Any]]:
    """Every edge case; the children of some come before their parents."""
    out: list[dict[str, Any]] = []
    # Content as a list of text parts matches the same text as a string.
    out.append(
        _record(
            "parts-child",
            2,
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "hello "},
                        {"type": "text", "text": "world"},
                    ],
                },
                assistant("hi"),
                user("next"),
            ],
            assistant("sure"),
        )
    )
    out.append(_record("parts-root", 1, [user("hello world")], assistant("hi")))
    # Tool calls and tool results: matched on id, function name and arguments.
    out.append(_record("tool-root", 3, [user("run ls")], assistant(None, tool_calls=[SHELL_CALL])))
    out.append(
        _record(
            "tool-child",
            4,
            [
                user("run ls"),
                assistant(None, tool_calls=[SHELL_CALL]),
                {"role": "tool", "tool_call_id": "call_1", "content": "a.txt"},
            ],
            assistant("there is a.txt"),
        )
    )
    # A client that echoes the tool-call turn's null content as "" continues it too.
    out.append(
        _record(
            "tool-echo-child",
            4.5,
            [
                user("run ls"),
                assistant("", tool_calls=[SHELL_CALL]),
                {"role": "tool", "tool_call_id": "call_1", "content": "a.txt"},
            ],
            assistant("a.txt it is"),
        )
    )
    other_args = {**SHELL_CALL, "function": {"name": "shell", "arguments": '{"cmd": "ls -l"}'}}
    out.append(
        _record(
            "tool-mismatch",
            5,
            [
                user("run ls"),
                assistant(None, tool_calls=[other_args]),
                {"role": "tool", "tool_call_id": "call_1", "content": "a.txt"},
            ],
            assistant("listing"),
        )
    )
    # Identical content in two tenants: lineage never crosses tenants.
    out.append(
        _record("tenant-b-root", 6, [user("same words")], assistant("same reply"), tenant="edge-b")
    )
    out.append(_record("tenant-a-root", 7, [user("same words")], assistant("same reply")))
    out.append(
        _record(
            "tenant-b-child",
            8,
            [user("same words"), assistant("same reply"), user("more")],
            assistant("ok"),
            tenant="edge-b",
        )
    )
    # A cache hit logged twice: the latest created before the child wins.
    cached = [user("cached question")]
    out.append(_record("cache-1", 10, cached, assistant("cached answer")))
    out.append(_record("cache-2", 11, cached, assistant("cached answer")))
    follow = [*cached, assistant("cached answer"), user("follow up")]
    out.append(_record("cache-child-early", 10.5, follow, assistant("a")))
    out.append(_record("cache-child-late", 12, follow, assistant("b")))
    # Explicit parents: missing, and a loop (cut at its earliest member).
    out.append(
        _record(
            "explicit-missing", 13, [user("x")], assistant("y"), parent_request_id="never-logged"
        )
    )
    out.append(_record("loop-1", 15, [user("l1")], assistant("r1"), parent_request_id="loop-3"))
    out.append(_record("loop-2", 14, [user("l2")], assistant("r2"), parent_request_id="loop-1"))
    out.append(_record("loop-3", 16, [user("l3")], assistant("r3"), parent_request_id="loop-2"))
    out.append(_record("loop-hanger", 17, [user("h")], assistant("h"), parent_request_id="loop-1"))
    # History that was never logged: an orphan root.
    out.append(
        _record(
            "orphan",
            18,
            [user("q"), assistant("an answer nobody logged"), user("and?")],
            assistant("then"),
        )
    )
    # A 1,000-turn agent loop, logged newest first.
    loop: list[dict[str, Any]] = []
    history: list[Message] = [{"role": "system", "content": "agent"}, user("go")]
    for turn in range(LOOP_TURNS):
        reply = assistant(f"s{turn}")
        loop.append(
            _record(f"deep-{turn:04d}", 100 + turn, list(history), reply, tenant="edge-deep")
        )
        history += [reply, user(f"r{turn}")]
    out.extend(reversed(loop))
    return out


def _node(parent: str | None, root: str, depth: int, orphan: bool = False) -> dict[str, Any]:
    return {"parent_node_id": parent, "root_node_id": root, "depth": depth, "is_orphan": orphan}


EXPECTED: dict[str, dict[str, Any]] = {
    "parts-root": _node(None, "parts-root", 0),
    "parts-child": _node("parts-root", "parts-root", 1),
    "tool-root": _node(None, "tool-root", 0),
    "tool-child": _node("tool-root", "tool-root", 1),
    "tool-echo-child": _node("tool-root", "tool-root", 1),
    "tool-mismatch": _node(None, "tool-mismatch", 0, orphan=True),
    "tenant-b-root": _node(None, "tenant-b-root", 0),
    "tenant-a-root": _node(None, "tenant-a-root", 0),
    "tenant-b-child": _node("tenant-b-root", "tenant-b-root", 1),
    "cache-1": _node(None, "cache-1", 0),
    "cache-2": _node(None, "cache-2", 0),
    "cache-child-early": _node("cache-1", "cache-1", 1),
    "cache-child-late": _node("cache-2", "cache-2", 1),
    "explicit-missing": _node(None, "explicit-missing", 0, orphan=True),
    "loop-2": _node(None, "loop-2", 0, orphan=True),
    "loop-3": _node("loop-2", "loop-2", 1),
    "loop-1": _node("loop-3", "loop-2", 2),
    "loop-hanger": _node("loop-1", "loop-2", 3),
    "orphan": _node(None, "orphan", 0, orphan=True),
    **{
        f"deep-{turn:04d}": _node(f"deep-{turn - 1:04d}" if turn else None, "deep-0000", turn)
        for turn in range(LOOP_TURNS)
    },
}
