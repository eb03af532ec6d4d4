"""Run one replay task: its steps in order, each one a call and one contract-v1 request record.

A step already stored (found by its deterministic request_id) is not called
again: its stored reply feeds its children. A failed call ends the task as
failed; no response is invented for it, and the steps stored before it stay.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trellis.runners.kit.http_client import ChatClient
from trellis.runners.kit.joblog import ClaimedTask
from trellis.runners.kit.records import RecordKind
from trellis.runners.kit.settings import Endpoint
from trellis.runners.kit.worker import TaskResult

REPLAY_SOURCE_PREFIX = "replay"
_MESSAGE_KEYS = ("role", "content", "name", "tool_calls", "tool_call_id")


def reply_message(response: Mapping[str, Any]) -> dict[str, Any]:
    message = response["choices"][0]["message"]
    return {k: message[k] for k in _MESSAGE_KEYS if message.get(k) is not None} | {
        "content": message.get("content")
    }


class ReplayExecutor:
    record_kind: RecordKind = "requests"

    def __init__(
        self, endpoints: Mapping[str, Endpoint], source: str = REPLAY_SOURCE_PREFIX
    ) -> None:
        self.endpoints = endpoints
        self.source = source

    def record_ids(self, task: ClaimedTask) -> list[str]:
        return [step["request_id"] for step in task.payload["steps"]]

    async def run(
        self, task: ClaimedTask, existing: Mapping[str, dict[str, Any]], client: ChatClient
    ) -> TaskResult:
        payload = task.payload
        model = payload["model"]
        endpoint = self.endpoints[model]
        contexts: list[tuple[list[dict[str, Any]], dict[str, Any]]] = []
        records: list[dict[str, Any]] = []
        attempts = tokens = 0
        for step in payload["steps"]:
            parent = step["parent"]
            if "step" in parent:
                parent_messages, parent_reply = contexts[parent["step"]]
                messages = [*parent_messages, parent_reply, *step["messages"]]
                parent_id = payload["steps"][parent["step"]]["request_id"]
            else:
                messages = step["messages"]
                parent_id = parent["request_id"]
            stored = existing.get(step["request_id"])
            if stored is not None:
                contexts.append((messages, reply_message(stored["response"])))
                continue
            body = {"model": model, "messages": messages, **step["params"], "stream": False}
            result = await client.complete(
                endpoint,
                body,
                step["estimated_tokens"],
                headers={
                    "x-request-id": step["request_id"],
                    "x-trellis-cohort": payload["cohort_id"],
                },
            )
            attempts += result.attempts
            if not result.ok or result.response is None:
                error = (
                    f"{step['replay_of']}: {result.error}"
                    if len(payload["steps"]) > 1
                    else result.error
                )
                return TaskResult(task.task_id, False, records, attempts, tokens, error)
            tokens += result.total_tokens
            contexts.append((messages, reply_message(result.response)))
            record: dict[str, Any] = {
                "request_id": step["request_id"],
                "created_at": result.started_at.isoformat(),
                "completed_at": result.completed_at.isoformat(),
                "tenant_id": step["tenant_id"],
                "agent_id": step["agent_id"],
                "model": model,
                "endpoint": f"{endpoint.base_url}/chat/completions",
                "request": body,
                "response": result.response,
                "status": "success",
                "latency_ms": result.latency_ms,
                "branch": {
                    "kind": "replay",
                    "variant_config": payload["variant"],
                    "replay_of_request_id": step["replay_of"],
                    "cohort_id": payload["cohort_id"],
                },
                "metadata": {
                    "replay_task_id": task.task_id,
                    "replay_mode": payload["mode"],
                    "sample_index": payload["sample_index"],
                    "attempts": result.attempts,
                },
            }
            served = result.response.get("model")
            if isinstance(served, str):
                record["served_model"] = served
            if parent_id is not None:
                record["parent_request_id"] = parent_id
            if step.get("session_id"):
                record["session_id"] = step["session_id"]
            records.append(record)
        return TaskResult(task.task_id, True, records, attempts, tokens)
