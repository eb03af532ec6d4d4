"""Plan and run judge tasks: one per (template, judge model, target), through the replay
runner's job log, client and retries.

A judge call that succeeds always leaves a feedback record, parsed or not: the
raw text and the parse error are kept in its metadata. A call that fails
finally leaves none (the job log says why).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trellis.services.judge.manifest import JudgeManifest
from trellis.services.judge.parsers import LABEL_PARSERS, parse_labels, parse_score
from trellis.services.judge.targets import select_targets
from trellis.services.replay.db import Db
from trellis.services.replay.executor import existing_records
from trellis.services.replay.http_client import ChatClient
from trellis.services.replay.ids import stable_id
from trellis.services.replay.joblog import ClaimedTask, NewTask
from trellis.services.replay.manifest import Endpoint
from trellis.services.replay.planner import estimate_tokens
from trellis.services.replay.runner import TaskResult

JUDGE_OUTPUT_TOKENS = 512


@dataclass(frozen=True)
class JudgePlan:
    cohort_id: str
    tasks: list[NewTask]
    target_count: int
    input_tokens: int
    output_tokens: int


def plan_judge(db: Db, manifest: JudgeManifest) -> JudgePlan:
    cohort_id = manifest.cohort_id
    targets = select_targets(
        db, manifest.target_kind, list(manifest.target_ids), manifest.target_where, manifest.limit
    )
    tasks: list[NewTask] = []
    input_tokens = output_tokens = 0
    for template in manifest.templates:
        for target in targets:
            messages = template.render(target.variables)
            for judge in manifest.judges:
                task_id = stable_id(
                    "task",
                    cohort_id,
                    template.template_id,
                    template.version,
                    judge.model,
                    dict(judge.sampling),
                    target.kind,
                    target.target_id,
                    target.request_id,
                )
                out = int(judge.sampling.get("max_tokens") or JUDGE_OUTPUT_TOKENS)
                tokens_in = estimate_tokens(messages)
                input_tokens += tokens_in
                output_tokens += out
                tasks.append(
                    NewTask(
                        task_id,
                        "judge",
                        {
                            "kind": "judge",
                            "cohort_id": cohort_id,
                            "feedback_id": stable_id("judge", task_id),
                            "request_id": target.request_id,
                            "agent_id": target.agent_id,
                            "target": {"kind": target.kind, "id": target.target_id},
                            "template_id": template.template_id,
                            "template_version": template.version,
                            "parser": template.parser,
                            "judge_model": judge.model,
                            "body": {"model": judge.model, "messages": messages, **judge.sampling},
                            "estimated_tokens": tokens_in + out,
                        },
                        tokens_in + out,
                    )
                )
    return JudgePlan(cohort_id, tasks, len(targets), input_tokens, output_tokens)


class JudgeExecutor:
    record_kind = "feedback"

    def __init__(self, endpoints: Mapping[str, Endpoint], source: str = "judge") -> None:
        self.endpoints = endpoints
        self.source = source

    def record_ids(self, task: ClaimedTask) -> list[str]:
        return [task.payload["feedback_id"]]

    def existing(self, db: Db, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return existing_records(db, "feedback", "feedback_id", ids)

    def ingest(self, db: Db, records: list[dict[str, Any]]) -> None:
        from trellis.services.ingest import ingest_records

        ingest_records(db, "feedback", records, source=self.source)  # type: ignore[arg-type]

    async def run(
        self, task: ClaimedTask, existing: Mapping[str, dict[str, Any]], client: ChatClient
    ) -> TaskResult:
        p = task.payload
        endpoint = self.endpoints[p["judge_model"]]
        result = await client.complete(
            endpoint, p["body"], p["estimated_tokens"], headers={"x-trellis-cohort": p["cohort_id"]}
        )
        if not result.ok or result.response is None:
            return TaskResult(task.task_id, False, [], result.attempts, 0, result.error)
        content = result.response["choices"][0]["message"].get("content")
        text = content if isinstance(content, str) else ""
        labels: dict[str, Any] | None = None
        if p["parser"] in LABEL_PARSERS:
            # A labelling template: the categories go to metadata, its optional score
            # to completion_quality; on a parse error the raw text says what came back.
            labels, parse_error = parse_labels(p["parser"], text)
            score = labels["score"] if labels is not None else None
        else:
            score, parse_error = parse_score(p["parser"], text)
        record: dict[str, Any] = {
            "feedback_id": p["feedback_id"],
            "request_id": p["request_id"],
            "created_at": result.completed_at.isoformat(),
            "outcome": "success",
            "source": "judge",
            "agent_id": p["agent_id"],
            "metadata": {
                "template_id": p["template_id"],
                "template_version": p["template_version"],
                "judge_model": p["judge_model"],
                "served_model": result.response.get("model"),
                "parser": p["parser"],
                "score": score,
                "raw_text": text,
                "parse_error": parse_error,
                "cohort_id": p["cohort_id"],
                "task_id": task.task_id,
                "target_kind": p["target"]["kind"],
                "target_id": p["target"]["id"],
            },
        }
        if p["parser"] in LABEL_PARSERS:
            record["metadata"]["labels"] = labels
        if score is not None:
            record["completion_quality"] = score
        return TaskResult(task.task_id, True, [record], result.attempts, result.total_tokens)
