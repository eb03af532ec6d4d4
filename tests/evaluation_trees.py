"""Hand-built conversation trees, one per category rule, with the feedback they need.

Each tree lives in tenant "ev"; `EXPECTED_RULES` names the rule categories of
the trajectory ending at each leaf. The agent "writer" makes 20 short answers
so that its p95 of completion tokens exists (label_overlong_min_agent_nodes is
20 by default) and one long answer that exceeds it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

TENANT = "ev"
TOOLS = [
    {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
    for name in ("read_file", "grep")
]
Message = dict[str, Any]


def trajectory_id(leaf: str, tenant: str = TENANT) -> str:
    """As trajectory_units computes it: md5 of 'trajectory', the tenant and the leaf
    node id joined by '|' (a node id is unique within its tenant only)."""
    return hashlib.md5(f"trajectory|{tenant}|{leaf}".encode()).hexdigest()


def _at(second: int) -> str:
    minutes, seconds = divmod(second, 60)
    return f"2026-04-01T10:{minutes:02d}:{seconds:02d}Z"


def user(text: str) -> Message:
    return {"role": "user", "content": text}


def said(text: str) -> Message:
    return {"role": "assistant", "content": text}


def call(name: str, arguments: str, call_id: str) -> Message:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        ],
    }


def result(call_id: str, text: str) -> Message:
    return {"role": "tool", "tool_call_id": call_id, "content": text}


def request(
    request_id: str,
    second: int,
    messages: list[Message],
    reply: Message | None,
    *,
    agent: str = "coder",
    tools: bool = True,
    completion_tokens: int = 10,
    **extra: Any,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "request_id": request_id,
        "created_at": _at(second),
        "tenant_id": TENANT,
        "agent_id": agent,
        "model": "gpt-4o-mini",
        "request": {"messages": messages, **({"tools": TOOLS} if tools else {})},
    }
    if reply is not None:
        record["response"] = {
            "choices": [{"message": reply, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": completion_tokens},
        }
    record.update(extra)
    return record


def feedback(
    feedback_id: str, request_id: str, second: int, source: str = "auto", **fields: Any
) -> dict[str, Any]:
    return {
        "feedback_id": feedback_id,
        "request_id": request_id,
        "created_at": _at(second),
        "outcome": fields.pop("outcome", "success"),
        "source": source,
        **fields,
    }


def _chain(
    prefix: str, start: int, turns: list[tuple[Message, Message | None]], **kw: Any
) -> list[dict[str, Any]]:
    """A content-linked chain: each request's context is the history so far plus its ask."""
    out: list[dict[str, Any]] = []
    history: list[Message] = []
    for index, (ask, reply) in enumerate(turns):
        history = [*history, ask]
        out.append(request(f"{prefix}{index}", start + index, list(history), reply, **kw))
        if reply is not None:
            history = [*history, reply]
    return out


def requests() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    # tool_misuse: the same read_file call twice on one path.
    out += _chain(
        "mis-",
        0,
        [
            (user("fix the bug in a.py"), call("read_file", '{"path": "a.py"}', "c1")),
            (result("c1", "def f(): pass"), call("read_file", '{"path": "a.py"}', "c2")),
            (result("c2", "def f(): pass"), said("fixed")),
        ],
    )
    # tool_misuse: arguments that are not JSON.
    out += _chain(
        "badargs-",
        10,
        [
            (user("search for TODO"), call("grep", "{pattern: TODO", "c1")),
            (result("c1", "error: bad arguments"), said("no TODOs")),
        ],
    )
    # hallucination: a tool the request never declared.
    out += _chain(
        "hal-",
        20,
        [
            (user("clean the repo"), call("delete_everything", "{}", "c1")),
            (result("c1", "unknown tool"), said("done")),
        ],
    )
    # good_recovery: a failed call, then (explicit parent) a successful end.
    out.append(request("rec-0", 30, [user("summarize the log")], None, status="error"))
    out.append(
        request(
            "rec-1",
            31,
            [user("summarize the log")],
            said("the log is fine"),
            parent_request_id="rec-0",
        )
    )
    # underspecified: the user repeats the ask word for word.
    out += _chain(
        "und-",
        40,
        [
            (user("make it faster"), said("what should be faster?")),
            (user("make it faster"), said("done")),
        ],
        tools=False,
    )
    # tool_helped (and stable_high_quality): one good tool call, a successful end, good feedback.
    out += _chain(
        "help-",
        50,
        [
            (user("what does b.py do"), call("read_file", '{"path": "b.py"}', "c1")),
            (result("c1", "print('hi')"), said("it prints hi")),
        ],
    )
    # stable_high_quality: a clean chat with good feedback.
    out += _chain(
        "ok-", 60, [(user("hello"), said("hi")), (user("thanks"), said("welcome"))], tools=False
    )
    # overlong: 20 short answers of agent writer, then one far longer.
    for index in range(20):
        out.append(
            request(
                f"w-{index:02d}",
                100 + index,
                [user(f"haiku {index}")],
                said("short"),
                agent="writer",
                tools=False,
            )
        )
    out.append(
        request(
            "long-0",
            130,
            [user("a haiku please")],
            said("long " * 200),
            agent="writer",
            tools=False,
            completion_tokens=1000,
        )
    )
    return out


def feedback_records() -> list[dict[str, Any]]:
    return [
        feedback("fb-help", "help-1", 70, completion_quality=9),
        feedback("fb-ok", "ok-1", 71, completion_quality=8.5),
        # negative feedback keeps mis-2 from any good category (it has tool_misuse anyway)
        feedback("fb-mis", "mis-2", 72, source="user", outcome="user_rejected", rating=-1),
    ]


EXPECTED_RULES: dict[str, set[str]] = {
    "mis-2": {"tool_misuse"},
    "badargs-1": {"tool_misuse"},
    "hal-1": {"hallucination"},
    "rec-1": {"good_recovery"},
    "und-1": {"underspecified"},
    "help-1": {"tool_helped", "stable_high_quality"},
    "ok-1": {"stable_high_quality"},
    "long-0": {"overlong"},
    **{f"w-{index:02d}": set() for index in range(20)},
}
EXPECTED_EVIDENCE: dict[tuple[str, str], list[str]] = {
    ("mis-2", "tool_misuse"): ["mis-0", "mis-1"],
    ("badargs-1", "tool_misuse"): ["badargs-0"],
    ("hal-1", "hallucination"): ["hal-0"],
    ("rec-1", "good_recovery"): ["rec-0"],
    ("und-1", "underspecified"): ["und-1"],
    ("help-1", "tool_helped"): ["help-0"],
    ("long-0", "overlong"): ["long-0"],
}


def judge_answers() -> list[dict[str, Any]]:
    """Two judges label hal-1; one says hallucination (0.8), the other nothing; a third
    answer did not parse (its raw text kept, no labels)."""

    def answer(feedback_id: str, model: str, labels: Any, second: int) -> dict[str, Any]:
        return feedback(
            feedback_id,
            "hal-1",
            second,
            source="judge",
            metadata={
                "judge_model": model,
                "target_kind": "trajectory",
                "target_id": trajectory_id("hal-1"),
                "labels": labels,
                "raw_text": json.dumps(labels) if labels else "I cannot decide",
                "parse_error": None if labels else "no JSON object with a `categories` list",
            },
        )

    return [
        answer(
            "judge-a",
            "gpt-4o",
            {
                "categories": [{"category": "hallucination", "confidence": 0.8, "evidence": "x"}],
                "score": 2,
            },
            80,
        ),
        answer("judge-b", "gpt-4o-mini", {"categories": [], "score": 6}, 81),
        answer("judge-c", "llama", None, 82),
    ]
