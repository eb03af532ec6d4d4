"""Feedback records (contract section 2) for the calls of a conversation."""

from __future__ import annotations

from typing import Any

from trellis_demo.generate.builder import Generator, Node, rfc3339

_OUTCOME = {
    "success": "success",
    "fallback": "fallback",
    "timeout": "timeout",
    "error": "error",
    "cancelled": "user_rejected",
}


def feedback_for(gen: Generator, node: Node) -> list[tuple[int, dict[str, Any]]]:
    """(created_ms, record) of the feedback this call receives, often none."""
    rng = gen.rng
    found: list[tuple[int, dict[str, Any]]] = []

    def add(delay_ms: tuple[int, int], source: str, **fields: Any) -> None:
        created = node.completed_ms + rng.randint(*delay_ms)
        record: dict[str, Any] = {
            "feedback_id": gen.new_id("fb_"),
            "request_id": node.request_id,
            "created_at": rfc3339(created),
        }
        record.update(fields)
        if source != "auto" or rng.random() < 0.5:  # else left to the default
            record["source"] = source
        found.append((created, record))

    outcome = _OUTCOME[node.status]
    agent = node.agent_id
    roll = rng.random()
    if agent == "chat-ui":
        if node.status == "cancelled" and roll < 0.3:
            add((500, 5_000), "user", outcome="user_rejected", rating=-1)
        elif node.reply is not None and roll < 0.2:
            liked = rng.random() < 0.75
            fields: dict[str, Any] = {
                "outcome": "success" if liked else "user_rejected",
                "rating": 1 if liked else -1,
            }
            if not liked and rng.random() < 0.4:
                fields["comment"] = rng.choice(("too long", "wrong answer", "off topic"))
            add((2_000, 300_000), "user", agent_id=agent, **fields)
        if node.reply is not None and rng.random() < 0.05:
            add(
                (3_600_000, 86_400_000),
                "judge",
                outcome=outcome,
                completion_quality=round(rng.uniform(2, 10), 1),
                metadata={"judge_model": "gpt-4o", "rubric": "helpfulness-v2"},
            )
    elif agent == "batch-evaluator":
        fields = {"outcome": outcome, "agent_id": agent}
        if node.reply is not None:
            fields["completion_quality"] = rng.randint(0, 10)
        add((50, 2_000), "auto", **fields)
    elif agent == "code-agent":
        final = node.reply is not None and not node.reply.get("tool_calls")
        if node.status != "success" or (final and roll < 0.6):
            quality = {"completion_quality": rng.randint(3, 10)} if final else {}
            add((100, 5_000), "auto", outcome=outcome, **quality)
    elif agent == "ide-agent" and node.reply is not None and roll < 0.02:
        add(
            (600_000, 172_800_000),
            "human",
            outcome=outcome,
            completion_quality=rng.randint(0, 10),
            reviewer_id=f"rev_{rng.randint(1, 12):02d}",
            comment=rng.choice(("good tool use", "looped on grep", "edited the wrong file")),
        )
    return found
