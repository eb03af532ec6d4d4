"""Run one judge task: one call, one feedback record with source `judge`.

A judge call that succeeds always leaves a feedback record, parsed or not: the
raw text and the parse error are kept in its metadata. A call that fails
finally leaves none (the job log says why).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trellis.runners.judge.parsers import LABEL_PARSERS, parse_labels, parse_score
from trellis.runners.kit.http_client import ChatClient
from trellis.runners.kit.joblog import ClaimedTask
from trellis.runners.kit.records import RecordKind
from trellis.runners.kit.settings import Endpoint
from trellis.runners.kit.worker import TaskResult


class JudgeExecutor:
    record_kind: RecordKind = "feedback"

    def __init__(self, endpoints: Mapping[str, Endpoint], source: str = "judge") -> None:
        self.endpoints = endpoints
        self.source = source

    def record_ids(self, task: ClaimedTask) -> list[str]:
        return [task.payload["feedback_id"]]

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
            # the judged request's tenant: its id may be another tenant's too
            **({"tenant_id": p["tenant_id"]} if "tenant_id" in p else {}),
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
