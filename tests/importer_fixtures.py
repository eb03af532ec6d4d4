"""Source records of each imported format, in the shapes their producers document.

LiteLLM: StandardLoggingPayload (docs/my-website/docs/proxy/logging_spec.md)
and the LiteLLM_SpendLogs table (schema.prisma). OTel: OTLP/JSON as the
collector's file exporter writes it, in the GenAI semantic conventions'
three styles. Langfuse: public API pages of observations and scores. OpenAI
Batch: input and output JSONL. ChatGPT: conversations.json with its mapping
tree. Each builder writes the file(s) a user would hand to `trellis import`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

T0 = 1_717_000_000.0  # 2024-05-29T16:26:40Z


def _jsonl(path: Path, lines: list[Any]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for line in lines:
            handle.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


# ---------------------------------------------------------------- LiteLLM

LITELLM_STREAMED = {
    "id": "chatcmpl-anthropic-1",
    "trace_id": "trace-1",
    "call_type": "acompletion",
    "stream": True,
    "cache_hit": False,
    "status": "success",
    "custom_llm_provider": "anthropic",
    "startTime": T0,
    "endTime": T0 + 1.5,
    "completionStartTime": T0 + 0.25,
    "response_time": 0.25,
    "model": "claude-3-5-sonnet-20240620",
    "model_id": "deployment-1",
    "model_group": "claude-sonnet",
    "api_base": "https://api.anthropic.com/v1/messages",
    "response_cost": 0.0123,
    "prompt_tokens": 120,
    "completion_tokens": 30,
    "total_tokens": 150,
    "saved_cache_cost": 0.0,
    "request_tags": ["ide"],
    "end_user": "",
    "requester_ip_address": "10.0.0.7",
    "metadata": {
        "user_api_key_hash": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        "user_api_key_alias": "ide-agent",
        "user_api_key_team_id": "team-1",
        "user_api_key_team_alias": "acme",
        "user_api_key_org_id": "org-1",
        "user_api_key_user_id": "user-7",
        "user_api_key_end_user_id": "end-user-9",
        "spend_logs_metadata": {"session_id": "session-1"},
        "requester_ip_address": "10.0.0.7",
        "requester_metadata": {},
    },
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "hi"},
    ],
    "response": {
        "id": "msg_01",
        "object": "chat.completion",
        "model": "claude-3-5-sonnet-20240620",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "hello"},
            }
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 30, "cache_read_input_tokens": 100},
    },
    "model_parameters": {"temperature": 0.2, "max_tokens": 100, "stream": True},
    "hidden_params": {"litellm_model_name": "anthropic/claude-3-5-sonnet-20240620"},
    "error_str": None,
    "error_information": {"error_code": "", "error_class": "", "llm_provider": ""},
}

LITELLM_OPENAI = {
    "id": "chatcmpl-openai-2",
    "trace_id": "trace-2",
    "call_type": "completion",
    "stream": False,
    "cache_hit": True,
    "status": "success",
    "custom_llm_provider": "openai",
    "startTime": T0 + 10,
    "endTime": T0 + 10.8,
    "completionStartTime": T0 + 10.8,
    "model": "gpt-4o-2024-08-06",
    "model_group": "gpt-4o",
    "api_base": "https://api.openai.com/v1",
    "response_cost": 0.002,
    "metadata": {
        "user_api_key_alias": None,
        "user_api_key_user_id": "user-8",
        "user_api_key_team_id": "team-2",
        "requester_metadata": {"session_id": "session-2"},
    },
    "messages": [{"role": "user", "content": "2+2?"}],
    "response": {
        "id": "chatcmpl-xyz",
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "4"}}
        ],
        "usage": {
            "prompt_tokens": 1200,
            "completion_tokens": 1,
            "prompt_tokens_details": {"cached_tokens": 1024},
        },
    },
    "model_parameters": {"seed": 7},
}

LITELLM_FAILED = {
    "id": "chatcmpl-failed-3",
    "call_type": "acompletion",
    "status": "failure",
    "custom_llm_provider": "openai",
    "startTime": T0 + 20,
    "endTime": T0 + 20.1,
    "model": "gpt-4o",
    "model_group": "gpt-4o",
    "response_cost": 0.0,
    "metadata": {"user_api_key_alias": "batch-job"},
    "messages": [{"role": "user", "content": "too many"}],
    "response": None,
    "error_str": "litellm.RateLimitError: rate limited",
    "error_information": {
        "error_code": "429",
        "error_class": "RateLimitError",
        "llm_provider": "openai",
        "error_message": "rate limited",
    },
}

LITELLM_NO_MESSAGES = {
    "id": "chatcmpl-nomsg-4",
    "status": "success",
    "startTime": T0 + 30,
    "endTime": T0 + 31,
    "model": "gpt-4o-mini",
    "prompt_tokens": 50,
    "completion_tokens": 5,
    "response_cost": 0.0001,
    "messages": None,
    "response": {},
}


def litellm_payloads(path: Path) -> Path:
    return _jsonl(
        path,
        [
            LITELLM_STREAMED,
            LITELLM_OPENAI,
            LITELLM_FAILED,
            LITELLM_NO_MESSAGES,
            '{"id": "chatcmpl-broken", "startTime": ',  # line 5: cut off
            {"id": "chatcmpl-no-time", "model": "gpt-4o", "messages": []},  # line 6
        ],
    )


SPEND_LOG_COLUMNS = [
    "request_id",
    "call_type",
    "api_key",
    "spend",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "startTime",
    "endTime",
    "completionStartTime",
    "model",
    "model_id",
    "model_group",
    "custom_llm_provider",
    "api_base",
    "user",
    "metadata",
    "cache_hit",
    "cache_key",
    "request_tags",
    "team_id",
    "end_user",
    "requester_ip_address",
    "messages",
    "response",
    "session_id",
    "status",
]

SPEND_LOG_ROWS: list[dict[str, Any]] = [
    {
        # message logging off: messages and response are {}
        "request_id": "spend-1",
        "call_type": "acompletion",
        "api_key": "88dc28d0f030c55e",
        "spend": 0.0042,
        "total_tokens": 300,
        "prompt_tokens": 250,
        "completion_tokens": 50,
        "startTime": "2024-05-29 16:26:40.000",
        "endTime": "2024-05-29 16:26:42.500",
        "completionStartTime": "2024-05-29 16:26:41.000",
        "model": "gpt-4o-2024-08-06",
        "model_id": "dep-9",
        "model_group": "gpt-4o",
        "custom_llm_provider": "openai",
        "api_base": "https://api.openai.com/v1",
        "user": "user-1",
        "metadata": {
            "user_api_key_alias": "support-bot",
            "user_api_key_team_alias": "support",
            "user_api_key_team_id": "team-s",
            "status": "success",
            "additional_usage_values": {"prompt_tokens_details": {"cached_tokens": 200}},
        },
        "cache_hit": "False",
        "cache_key": "",
        "request_tags": ["prod"],
        "team_id": "team-s",
        "end_user": "customer-3",
        "requester_ip_address": "",
        "messages": {},
        "response": {},
        "session_id": "sess-s",
        "status": "success",
    },
    {
        "request_id": "spend-2",
        "call_type": "acompletion",
        "api_key": "88dc28d0f030c55e",
        "spend": 0.001,
        "total_tokens": 12,
        "prompt_tokens": 10,
        "completion_tokens": 2,
        "startTime": "2024-05-29 16:30:00.000",
        "endTime": "2024-05-29 16:30:00.400",
        "completionStartTime": "",
        "model": "gpt-4o-mini",
        "model_id": "",
        "model_group": "gpt-4o-mini",
        "custom_llm_provider": "openai",
        "api_base": "",
        "user": "",
        "metadata": {"user_api_key_alias": "support-bot", "user_api_key_team_id": "team-s"},
        "cache_hit": "True",
        "cache_key": "k1",
        "request_tags": [],
        "team_id": "team-s",
        "end_user": "",
        "requester_ip_address": "",
        "messages": [{"role": "user", "content": "ping"}],
        "response": {
            "id": "chatcmpl-p",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "pong"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2},
        },
        "session_id": "",
        "status": "success",
    },
    {
        "request_id": "spend-3",
        "call_type": "acompletion",
        "api_key": "k",
        "spend": 0.0,
        "total_tokens": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "startTime": "yesterday",  # not a time: quarantined
        "endTime": "",
        "completionStartTime": "",
        "model": "gpt-4o",
        "model_id": "",
        "model_group": "",
        "custom_llm_provider": "",
        "api_base": "",
        "user": "",
        "metadata": {},
        "cache_hit": "",
        "cache_key": "",
        "request_tags": [],
        "team_id": "",
        "end_user": "",
        "requester_ip_address": "",
        "messages": {},
        "response": {},
        "session_id": "",
        "status": "failure",
    },
]


def litellm_spend_csv(path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, SPEND_LOG_COLUMNS)
        writer.writeheader()
        for row in SPEND_LOG_ROWS:
            writer.writerow(
                {
                    key: json.dumps(value) if isinstance(value, dict | list) else value
                    for key, value in row.items()
                }
            )
    return path


# ---------------------------------------------------------------- OpenTelemetry


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    if isinstance(value, list):
        return {
            "key": key,
            "value": {"arrayValue": {"values": [{"stringValue": v} for v in value]}},
        }
    return {"key": key, "value": {"stringValue": value}}


def _span(span_id: str, name: str, attributes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    start = int(T0 * 1e9)
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": span_id,
        "parentSpanId": "eee19b7ec3c1b174",
        "name": name,
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 2_000_000_000),
        "attributes": [_attr(key, value) for key, value in attributes.items()],
        "status": {},
        **extra,
    }


OTEL_SEMCONV = _span(
    "a1a1a1a1a1a1a1a1",
    "chat gpt-4o",
    {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.response.id": "chatcmpl-otel-1",
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.max_tokens": 200,
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 20,
        "gen_ai.usage.cache_read.input_tokens": 64,
        "gen_ai.conversation.id": "conv-otel",
        "server.address": "api.openai.com",
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
        "gen_ai.input.messages": json.dumps(
            [
                {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
                {
                    "role": "assistant",
                    "parts": [
                        {
                            "type": "tool_call",
                            "id": "call_1",
                            "name": "get_weather",
                            "arguments": {"city": "Paris"},
                        }
                    ],
                },
                {
                    "role": "tool",
                    "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy"}],
                },
            ]
        ),
        "gen_ai.output.messages": json.dumps(
            [
                {
                    "role": "assistant",
                    "parts": [{"type": "text", "content": "Rainy in Paris."}],
                    "finish_reason": "stop",
                }
            ]
        ),
    },
)

OTEL_EVENTS = _span(
    "b2b2b2b2b2b2b2b2",
    "chat claude",
    {
        "gen_ai.system": "anthropic",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "claude-3-haiku",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 3,
    },
    events=[
        {
            "timeUnixNano": str(int(T0 * 1e9)),
            "name": "gen_ai.system.message",
            "attributes": [_attr("content", "You are a poet.")],
        },
        {
            "timeUnixNano": str(int(T0 * 1e9)),
            "name": "gen_ai.user.message",
            "attributes": [_attr("content", "A haiku, please.")],
        },
        {
            "timeUnixNano": str(int(T0 * 1e9) + 1),
            "name": "gen_ai.choice",
            "attributes": [
                _attr("index", 0),
                _attr("finish_reason", "end_turn"),
                _attr("message", json.dumps({"role": "assistant", "content": "Autumn moon"})),
            ],
        },
    ],
    status={"code": 1},
)

OTEL_FLATTENED = _span(
    "c3c3c3c3c3c3c3c3",
    "openai.chat",
    {
        "llm.request.type": "chat",
        "gen_ai.system": "OpenAI",
        "gen_ai.request.model": "gpt-3.5-turbo",
        "gen_ai.response.model": "gpt-3.5-turbo-0125",
        "gen_ai.prompt.0.role": "system",
        "gen_ai.prompt.0.content": "You count.",
        "gen_ai.prompt.1.role": "user",
        "gen_ai.prompt.1.content": "1, 2, ...",
        "gen_ai.completion.0.role": "assistant",
        "gen_ai.completion.0.content": "3",
        "gen_ai.completion.0.finish_reason": "stop",
        "llm.usage.prompt_tokens": 15,
        "llm.usage.completion_tokens": 1,
        "llm.usage.total_tokens": 16,
    },
)

OTEL_ERROR = _span(
    "d4d4d4d4d4d4d4d4",
    "chat gpt-4o",
    {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "error.type": "timeout",
        "gen_ai.input.messages": json.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": "slow?"}]}]
        ),
    },
    status={"code": 2, "message": "deadline exceeded"},
)

OTEL_HTTP = _span("e5e5e5e5e5e5e5e5", "GET /health", {"http.request.method": "GET"})
OTEL_EMBEDDINGS = _span(
    "f6f6f6f6f6f6f6f6",
    "embeddings text-embedding-3-small",
    {"gen_ai.operation.name": "embeddings", "gen_ai.request.model": "text-embedding-3-small"},
)
OTEL_NO_ID = _span("", "chat gpt-4o", {"gen_ai.operation.name": "chat"})


def otel_file(path: Path) -> Path:
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr("service.name", "support-agent")]},
                "scopeSpans": [
                    {
                        "scope": {"name": "opentelemetry.instrumentation.openai"},
                        "spans": [
                            OTEL_SEMCONV,
                            OTEL_EVENTS,
                            OTEL_FLATTENED,
                            OTEL_ERROR,
                            OTEL_HTTP,
                            OTEL_EMBEDDINGS,
                            OTEL_NO_ID,
                        ],
                    }
                ],
            }
        ]
    }
    return _jsonl(path, [document, '{"resourceSpans": [ oops'])


# ---------------------------------------------------------------- Langfuse

LANGFUSE_GENERATION = {
    "id": "obs-1",
    "traceId": "lf-trace-1",
    "type": "GENERATION",
    "name": "answer-question",
    "startTime": "2024-05-29T16:26:40.000Z",
    "endTime": "2024-05-29T16:26:42.000Z",
    "completionStartTime": "2024-05-29T16:26:40.500Z",
    "model": "gpt-4o",
    "modelParameters": {"temperature": "0.7", "max_tokens": "256"},
    "input": [
        {"role": "system", "content": "You help."},
        {"role": "user", "content": "What is Langfuse?"},
    ],
    "output": {"role": "assistant", "content": "An LLM engineering platform."},
    "usageDetails": {"input": 30, "output": 8, "total": 38, "input_cached_tokens": 10},
    "costDetails": {"input": 0.0003, "output": 0.0002, "total": 0.0005},
    "level": "DEFAULT",
    "statusMessage": None,
    "parentObservationId": "obs-root",
    "promptName": "qa-prompt",
    "promptVersion": 3,
    "metadata": {"env": "prod"},
    "sessionId": "lf-session-1",
    "userId": "lf-user-1",
}
LANGFUSE_SPAN = {"id": "obs-root", "traceId": "lf-trace-1", "type": "SPAN", "name": "rag"}
LANGFUSE_FAILED = {
    "id": "obs-2",
    "traceId": "lf-trace-1",
    "type": "GENERATION",
    "name": "completion",
    "startTime": "2024-05-29T16:27:00Z",
    "endTime": "2024-05-29T16:27:01Z",
    "model": "gpt-3.5-turbo-instruct",
    "input": "Complete: once upon",
    "output": None,
    "usage": {"input": 4, "output": 0, "total": 4, "unit": "TOKENS"},
    "level": "ERROR",
    "statusMessage": "context length exceeded",
}
LANGFUSE_NO_TIME = {"id": "obs-3", "type": "GENERATION", "model": "gpt-4o"}

LANGFUSE_SCORE_NUMERIC = {
    "id": "score-1",
    "traceId": "lf-trace-1",
    "observationId": "obs-1",
    "name": "helpfulness",
    "value": 8,
    "dataType": "NUMERIC",
    "source": "EVAL",
    "comment": "good",
    "timestamp": "2024-05-29T17:00:00Z",
}
LANGFUSE_SCORE_BOOLEAN = {
    "id": "score-2",
    "traceId": "lf-trace-1",
    "observationId": "obs-1",
    "name": "thumbs",
    "value": 0,
    "dataType": "BOOLEAN",
    "source": "ANNOTATION",
    "timestamp": "2024-05-29T17:01:00Z",
}
LANGFUSE_SCORE_TRACE = {
    "id": "score-3",
    "traceId": "lf-trace-1",
    "name": "overall",
    "value": 1,
    "dataType": "NUMERIC",
    "source": "API",
    "timestamp": "2024-05-29T17:02:00Z",
}


def langfuse_files(directory: Path) -> list[Path]:
    observations = directory / "observations.json"
    observations.write_text(
        json.dumps(
            {
                "data": [LANGFUSE_GENERATION, LANGFUSE_SPAN, LANGFUSE_FAILED, LANGFUSE_NO_TIME],
                "meta": {"page": 1, "limit": 50, "totalItems": 4, "totalPages": 1},
            },
            indent=2,
        )
    )
    scores = directory / "scores.json"
    scores.write_text(
        json.dumps(
            {
                "data": [LANGFUSE_SCORE_NUMERIC, LANGFUSE_SCORE_BOOLEAN, LANGFUSE_SCORE_TRACE],
                "meta": {"page": 1, "limit": 50, "totalItems": 3, "totalPages": 1},
            },
            indent=2,
        )
    )
    return [observations, scores]


# ---------------------------------------------------------------- OpenAI Batch

BATCH_INPUT = [
    {
        "custom_id": "task-1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "Classify: great product"}],
            "temperature": 0,
            "max_completion_tokens": 5,
        },
    },
    {
        "custom_id": "task-2",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * 10}]},
    },
    {
        "custom_id": "task-never",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "late"}]},
    },
]
BATCH_OUTPUT = [
    {
        "id": "batch_req_1",
        "custom_id": "task-1",
        "response": {
            "status_code": 200,
            "request_id": "req_abc",
            "body": {
                "id": "chatcmpl-b1",
                "object": "chat.completion",
                "created": 1711652795,
                "model": "gpt-4o-mini-2024-07-18",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "positive"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": 22,
                    "completion_tokens": 1,
                    "total_tokens": 23,
                    "prompt_tokens_details": {"cached_tokens": 0},
                },
            },
        },
        "error": None,
    },
    {
        "id": "batch_req_2",
        "custom_id": "task-2",
        "response": {
            "status_code": 400,
            "request_id": "req_def",
            "body": {
                "error": {
                    "message": "Invalid value for 'messages'",
                    "type": "invalid_request_error",
                    "code": "invalid_value",
                }
            },
        },
        "error": None,
    },
    {"id": "batch_req_9", "custom_id": "task-unknown", "response": None, "error": None},
]


def openai_batch_files(directory: Path) -> list[Path]:
    source = _jsonl(directory / "batch_input.jsonl", list(BATCH_INPUT))
    output = _jsonl(directory / "batch_output.jsonl", [*BATCH_OUTPUT, "{not json"])
    return [output, source]  # any order


# ---------------------------------------------------------------- ChatGPT


def _node(
    node_id: str, parent: str | None, children: list[str], message: dict[str, Any] | None
) -> dict[str, Any]:
    return {"id": node_id, "message": message, "parent": parent, "children": children}


def _message(node_id: str, role: str, text: str, at: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "author": {"role": role, "name": None, "metadata": {}},
        "create_time": at,
        "update_time": None,
        "content": {"content_type": "text", "parts": [text]},
        "status": "finished_successfully",
        "end_turn": role == "assistant",
        "weight": 1.0,
        "metadata": {"model_slug": "gpt-4o", "finish_details": {"type": "stop"}}
        if role == "assistant"
        else {},
        "recipient": "all",
        **extra,
    }


#: The known tree of conversation `conv-1` (node -> expected lineage):
#: a1 is the root; a2 and its regeneration a2r answer the same prompt u2 (one
#: response group); a2e answers u2e, an edit of u2 (another group, same parent a1);
#: a3 continues a2; the code message c1 goes to a tool and is not a call.
CHATGPT_TREE = {
    "a1": None,
    "a2": "a1",
    "a2r": "a1",
    "a2e": "a1",
    "a3": "a2",
}


def chatgpt_conversations(path: Path) -> Path:
    hidden = _message(
        "sys", "system", "", T0, metadata={"is_visually_hidden_from_conversation": True}
    )
    mapping = {
        "root": _node("root", None, ["sys"], None),
        "sys": _node("sys", "root", ["u1"], hidden),
        "u1": _node("u1", "sys", ["a1"], _message("u1", "user", "Hello", T0 + 1)),
        "a1": _node(
            "a1", "u1", ["u2", "u2e"], _message("a1", "assistant", "Hi! How can I help?", T0 + 2)
        ),
        "u2": _node("u2", "a1", ["a2", "a2r"], _message("u2", "user", "Tell me a joke", T0 + 3)),
        "a2": _node(
            "a2", "u2", ["u3"], _message("a2", "assistant", "Why did the chicken...", T0 + 4)
        ),
        "a2r": _node("a2r", "u2", [], _message("a2r", "assistant", "Knock knock.", T0 + 5)),
        "u2e": _node("u2e", "a1", ["c1"], _message("u2e", "user", "Tell me a poem", T0 + 6)),
        "c1": _node(
            "c1",
            "u2e",
            ["a2e"],
            _message("c1", "assistant", "search('poem')", T0 + 6.5, recipient="browser")
            | {
                "content": {"content_type": "code", "language": "unknown", "text": "search('poem')"}
            },
        ),
        "a2e": _node("a2e", "c1", [], _message("a2e", "assistant", "Roses are red.", T0 + 7)),
        "u3": _node("u3", "a2", ["a3"], _message("u3", "user", "Another", T0 + 8)),
        "a3": _node("a3", "u3", [], _message("a3", "assistant", "To cross the road.", T0 + 9)),
    }
    conversations = [
        {
            "title": "Jokes",
            "create_time": T0,
            "update_time": T0 + 9,
            "mapping": mapping,
            "moderation_results": [],
            "current_node": "a3",
            "plugin_ids": None,
            "conversation_id": "conv-1",
            "conversation_template_id": None,
            "gizmo_id": None,
            "is_archived": False,
            "default_model_slug": "gpt-4o",
            "id": "conv-1",
        },
        {"title": "broken", "create_time": T0, "id": "conv-2"},  # no mapping
    ]
    path.write_text(json.dumps(conversations, indent=1))
    return path
