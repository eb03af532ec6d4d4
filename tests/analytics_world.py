"""A small judged world for the analytics marts and the report: original nodes,
replays of them in one cohort (variants x samples, as the replay runner writes
them) and judge feedback in the judge runner's record format, plus human scores.

Scores are drawn from a seeded generator: a node effect, a variant effect and
per-judge noise, so the variants differ and the judges mostly agree.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

COHORT = "cohort-analytics"
VARIANTS = {"base": 0.0, "concise": 1.5, "terse": -0.15}
JUDGES = ("gpt-4o", "gpt-4o-mini")
TEMPLATES = (("helpfulness", "2"), ("helpfulness", "3"))
START = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)  # inside the generator's default days


def _request(request_id: str, index: int, at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "created_at": at.isoformat(),
        "tenant_id": "default",
        "agent_id": "chat-ui",
        "model": "gpt-4o-mini",
        "request": {"messages": [{"role": "user", "content": f"question {index}"}]},
        "response": {
            "id": f"resp-{request_id}",
            "choices": [
                {
                    "message": {"role": "assistant", "content": f"answer {request_id}"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 20, "completion_tokens": 10},
        },
        "latency_ms": 800,
        **extra,
    }


def _judge_feedback(
    request_id: str, judge: str, template: tuple[str, str], score: float | None, at: datetime
) -> dict[str, Any]:
    """The record JudgeExecutor.run appends (python/trellis/runners/judge/executor.py)."""
    name, version = template
    feedback_id = f"judge-{request_id}-{judge}-{name}-{version}"
    record: dict[str, Any] = {
        "feedback_id": feedback_id,
        "request_id": request_id,
        "created_at": at.isoformat(),
        "outcome": "success",
        "source": "judge",
        "agent_id": "chat-ui",
        "metadata": {
            "template_id": name,
            "template_version": version,
            "judge_model": judge,
            "served_model": judge,
            "parser": "last_line_score",
            "score": score,
            "raw_text": "..." if score is None else f"SCORE: {score:g}",
            "parse_error": "last line has no `SCORE: <number>`" if score is None else None,
            "cohort_id": "judge-cohort",
            "task_id": f"task-{feedback_id}",
            "target_kind": "trajectory",
            "target_id": f"traj-{request_id}",
        },
    }
    if score is not None:
        record["completion_quality"] = score
    return record


def judged_world(
    nodes: int = 24, samples: int = 2, seed: int = 11
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(request records, feedback records)."""
    rng = random.Random(seed)
    requests: list[dict[str, Any]] = []
    feedback: list[dict[str, Any]] = []
    at = START
    for index in range(nodes):
        original = f"node-{index:03d}"
        requests.append(_request(original, index, at))
        node_effect = rng.uniform(3.0, 7.0)
        for variant, effect in VARIANTS.items():
            for sample in range(samples):
                replay = f"replay-{variant}-{index:03d}-{sample}"
                requests.append(
                    _request(
                        replay,
                        index,
                        at + timedelta(hours=1),
                        branch={
                            "kind": "replay",
                            "variant_config": {"name": variant, "model": "gpt-4o-mini"},
                            "replay_of_request_id": original,
                            "cohort_id": COHORT,
                        },
                        metadata={"replay_task_id": f"t-{replay}", "sample_index": sample},
                    )
                )
                for judge_index, judge in enumerate(JUDGES):
                    for template in TEMPLATES:
                        raw = node_effect + effect + 0.4 * judge_index + rng.gauss(0, 0.7)
                        score = float(min(10, max(0, round(raw * 2) / 2)))
                        feedback.append(
                            _judge_feedback(replay, judge, template, score, at + timedelta(hours=2))
                        )
                if index % 3 == 0 and sample == 0:
                    human = node_effect + effect + rng.gauss(0, 1.0)
                    feedback.append(
                        {
                            "feedback_id": f"human-{replay}",
                            "request_id": replay,
                            "created_at": (at + timedelta(hours=3)).isoformat(),
                            "outcome": "success",
                            "source": "human",
                            "reviewer_id": "reviewer-1",
                            "completion_quality": float(min(10, max(0, round(human)))),
                        }
                    )
        at += timedelta(hours=5)
    # a judge reply without a score: kept as a failed parse, never a score
    feedback.append(_judge_feedback("node-000", JUDGES[0], TEMPLATES[0], None, at))
    # a judge that logs only completion_quality and names no template (as the demo generator's)
    feedback.append(
        {
            "feedback_id": "judge-plain-node-001",
            "request_id": "node-001",
            "created_at": at.isoformat(),
            "outcome": "success",
            "source": "judge",
            "completion_quality": 6.5,
            "metadata": {"judge_model": "gpt-4o", "rubric": "helpfulness-v2"},
        }
    )
    # a trajectory every judge gave the top score
    requests.append(_request("node-perfect", 999, at))
    for judge in JUDGES:
        feedback.append(_judge_feedback("node-perfect", judge, TEMPLATES[1], 10.0, at))
    return requests, feedback
