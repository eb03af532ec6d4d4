"""`trellis import FORMAT FILE...`: each format's mapping, field by field, through the CLI.

Each test imports a fixture in the shape its producer documents
(tests/importer_fixtures.py) into a real DuckDB file, reads the stored
records back, asserts the mapping, checks the malformed records are
quarantined with file, position, reason and original text, and that a
second import changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests import importer_fixtures as fx

TRELLIS = str(Path(sys.executable).with_name("trellis"))


def _import(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [TRELLIS, "import", *args, "--target", "duckdb"],
        env={**os.environ, **env, "COLUMNS": "150"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result


def _rows(env: dict[str, str], sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(env["TRELLIS_DUCKDB_PATH"], read_only=True) as connection:
        return connection.sql(sql).fetchall()


def _records(env: dict[str, str], table: str = "requests") -> dict[str, dict[str, Any]]:
    key = "request_id" if table == "requests" else "feedback_id"
    return {
        row[0]: json.loads(row[1]) for row in _rows(env, f"select {key}, record from raw.{table}")
    }


def _quarantine(env: dict[str, str]) -> list[tuple[Any, ...]]:
    return _rows(
        env,
        "select source_file, source_line, reason, raw_text from raw.quarantine "
        "order by source_file, source_line",
    )


def _counts(env: dict[str, str]) -> tuple[int, int, int]:
    return _rows(
        env,
        "select (select count(*) from raw.requests), (select count(*) from raw.feedback), "
        "(select count(*) from raw.quarantine)",
    )[0]


def _reimport_changes_nothing(args: list[str], env: dict[str, str]) -> None:
    before = _counts(env)
    again = _import(args, env)
    assert _counts(env) == before
    assert "already in raw.quarantine" in again.stdout
    loaded = re.findall(r"│ loaded\s+│\s+([\d,]+)", again.stdout)
    assert loaded and all(count == "0" for count in loaded)


def test_litellm_payloads_map_ids_times_usage_cost_status_and_identity(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    path = fx.litellm_payloads(tmp_path / "payloads.jsonl")
    args = ["litellm", str(path), "--tenant-from", "team_alias,team_id"]
    result = _import(args, duckdb_env)
    records = _records(duckdb_env)

    assert "loaded" in result.stdout
    streamed = records["chatcmpl-anthropic-1"]
    assert streamed["created_at"] == "2024-05-29T16:26:40Z"
    assert streamed["completed_at"] == "2024-05-29T16:26:41.500000Z"
    assert streamed["latency_ms"] == 1500.0
    assert streamed["ttft_ms"] == 250.0
    assert streamed["tenant_id"] == "acme"  # team_alias first
    assert streamed["agent_id"] == "ide-agent"  # key alias
    assert streamed["session_id"] == "session-1"
    assert streamed["trace_id"] == "trace-1"
    assert streamed["model"] == "claude-sonnet"  # the model group the client asked for
    assert streamed["served_model"] == "claude-3-5-sonnet-20240620"
    assert streamed["provider"] == "anthropic"
    assert streamed["endpoint"] == "https://api.anthropic.com/v1/messages"
    assert streamed["cost_usd"] == 0.0123
    assert streamed["status"] == "success"
    assert streamed["request"] == {
        "messages": fx.LITELLM_STREAMED["messages"],
        "temperature": 0.2,
        "max_tokens": 100,
    }
    # Anthropic counts cache reads apart: added to the prompt, so none is billed twice
    assert streamed["response"]["usage"] == {
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 100},
    }
    assert streamed["response"]["choices"][0]["message"]["content"] == "hello"
    assert streamed["metadata"] == {
        "source": "litellm",
        "call_type": "acompletion",
        "model_id": "deployment-1",
        "model_group": "claude-sonnet",
        "cache_hit": False,
        "saved_cache_cost_usd": 0.0,
        "request_tags": ["ide"],
        "team_id": "team-1",
        "team_alias": "acme",
        "org_id": "org-1",
        "key_alias": "ide-agent",
        "user_id": "user-7",
        "end_user": "end-user-9",
        "spend_logs_metadata": {"session_id": "session-1"},
    }
    assert "requester_ip_address" not in json.dumps(streamed)
    assert "88dc28" not in json.dumps(streamed)  # the key hash is not kept

    openai = records["chatcmpl-openai-2"]
    assert openai["tenant_id"] == "team-2"  # no team alias: the team id
    assert openai["agent_id"] == "user-8"  # no key alias: the user id
    assert openai["session_id"] == "session-2"
    assert "ttft_ms" not in openai  # not streamed
    assert openai["response"]["usage"]["prompt_tokens"] == 1200  # cached part already in it
    assert openai["response"]["usage"]["prompt_tokens_details"] == {"cached_tokens": 1024}
    assert openai["metadata"]["cache_hit"] is True
    assert openai["request"]["seed"] == 7

    failed = records["chatcmpl-failed-3"]
    assert failed["status"] == "error"
    assert failed["error"] == {
        "code": "RateLimitError",
        "message": "rate limited",
        "http_status": 429,
    }
    assert "response" not in failed
    assert failed["tenant_id"] == "default"

    absent = records["chatcmpl-nomsg-4"]
    assert absent["request"]["messages"] == [{"role": "user", "content": None}]
    assert absent["metadata"]["messages_absent"] is True
    assert absent["response"] == {
        "usage": {"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55}
    }
    assert absent["cost_usd"] == 0.0001

    assert _quarantine(duckdb_env) == [
        (str(path), 5, "invalid_json", '{"id": "chatcmpl-broken", "startTime": '),
        (
            str(path),
            6,
            "missing_field",
            json.dumps({"id": "chatcmpl-no-time", "model": "gpt-4o", "messages": []}),
        ),
    ]
    _reimport_changes_nothing(args, duckdb_env)


def test_litellm_spend_log_csv_rows_without_messages_keep_cost_and_latency(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    path = fx.litellm_spend_csv(tmp_path / "spend.csv")
    args = ["litellm", str(path), "--tenant-from", "team_alias", "--tenant", "fallback-tenant"]
    _import(args, duckdb_env)
    records = _records(duckdb_env)

    bare = records["spend-1"]
    assert bare["created_at"] == "2024-05-29T16:26:40+00:00"
    assert bare["latency_ms"] == 2500.0
    assert bare["ttft_ms"] == 1000.0
    assert bare["cost_usd"] == 0.0042
    assert bare["tenant_id"] == "support"
    assert bare["agent_id"] == "support-bot"
    assert bare["session_id"] == "sess-s"
    assert bare["model"] == "gpt-4o" and bare["served_model"] == "gpt-4o-2024-08-06"
    assert bare["request"]["messages"] == [{"role": "user", "content": None}]
    assert bare["response"] == {
        "usage": {
            "prompt_tokens": 250,
            "completion_tokens": 50,
            "total_tokens": 300,
            "prompt_tokens_details": {"cached_tokens": 200},
        }
    }
    assert bare["metadata"]["messages_absent"] is True
    assert bare["metadata"]["cache_hit"] is False
    assert bare["metadata"]["end_user"] == "customer-3"
    assert bare["metadata"]["request_tags"] == ["prod"]

    full = records["spend-2"]
    assert full["request"]["messages"] == [{"role": "user", "content": "ping"}]
    assert full["response"]["choices"][0]["message"]["content"] == "pong"
    assert full["tenant_id"] == "fallback-tenant"  # no team alias on this row
    assert full["metadata"]["cache_hit"] is True

    quarantined = _quarantine(duckdb_env)
    assert [(row[1], row[2]) for row in quarantined] == [(3, "wrong_type")]
    assert quarantined[0][3].startswith("spend-3,acompletion,k,")
    _reimport_changes_nothing(args, duckdb_env)


def test_otel_spans_in_all_three_styles_map_and_other_spans_are_skipped_and_counted(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    path = fx.otel_file(tmp_path / "traces.jsonl")
    args = ["otel", str(path), "--tenant", "t-otel"]
    result = _import(args, duckdb_env)
    records = _records(duckdb_env)

    assert set(records) == {
        "a1a1a1a1a1a1a1a1",
        "b2b2b2b2b2b2b2b2",
        "c3c3c3c3c3c3c3c3",
        "d4d4d4d4d4d4d4d4",
    }
    assert "non-GenAI spans" in result.stdout and "GenAI embeddings spans" in result.stdout

    semconv = records["a1a1a1a1a1a1a1a1"]
    assert semconv["created_at"] == "2024-05-29T16:26:40Z"
    assert semconv["latency_ms"] == 2000.0
    assert semconv["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert semconv["tenant_id"] == "t-otel"
    assert semconv["agent_id"] == "support-agent"  # service.name
    assert semconv["session_id"] == "conv-otel"
    assert semconv["model"] == "gpt-4o" and semconv["served_model"] == "gpt-4o-2024-08-06"
    assert semconv["provider"] == "openai" and semconv["endpoint"] == "api.openai.com"
    assert semconv["request"] == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "content": "rainy", "tool_call_id": "call_1"},
        ],
        "temperature": 0.5,
        "max_tokens": 200,
    }
    assert semconv["response"] == {
        "id": "chatcmpl-otel-1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Rainy in Paris."},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 100,
            "completion_tokens": 20,
            "total_tokens": 120,
            "prompt_tokens_details": {"cached_tokens": 64},
        },
    }
    assert semconv["metadata"] == {
        "source": "otel",
        "span_name": "chat gpt-4o",
        "parent_span_id": "eee19b7ec3c1b174",
        "operation": "chat",
        "message_style": "attributes",
        "service_name": "support-agent",
    }

    events = records["b2b2b2b2b2b2b2b2"]
    assert events["request"]["messages"] == [
        {"role": "system", "content": "You are a poet."},
        {"role": "user", "content": "A haiku, please."},
    ]
    assert events["response"]["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": "Autumn moon"},
        "finish_reason": "end_turn",
    }
    assert events["provider"] == "anthropic" and events["metadata"]["message_style"] == "events"

    flattened = records["c3c3c3c3c3c3c3c3"]
    assert flattened["request"]["messages"] == [
        {"role": "system", "content": "You count."},
        {"role": "user", "content": "1, 2, ..."},
    ]
    assert flattened["response"]["choices"][0]["message"] == {"role": "assistant", "content": "3"}
    assert flattened["response"]["usage"] == {
        "prompt_tokens": 15,
        "completion_tokens": 1,
        "total_tokens": 16,
    }
    assert flattened["metadata"]["message_style"] == "flattened"

    failed = records["d4d4d4d4d4d4d4d4"]
    assert failed["status"] == "error"
    assert failed["error"] == {"code": "timeout", "message": "deadline exceeded"}
    assert "response" not in failed

    reasons = [(line, reason) for _, line, reason, _ in _quarantine(duckdb_env)]
    assert reasons == [(100_007, "missing_field"), (200_000, "invalid_json")]
    _reimport_changes_nothing(args, duckdb_env)


def test_langfuse_generations_become_requests_and_observation_scores_feedback(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    observations, scores = fx.langfuse_files(tmp_path)
    args = ["langfuse", str(observations), str(scores)]
    result = _import(args, duckdb_env)
    records = _records(duckdb_env)

    assert set(records) == {"obs-1", "obs-2"}
    assert "SPAN observations" in result.stdout
    generation = records["obs-1"]
    assert generation["created_at"] == "2024-05-29T16:26:40+00:00"
    assert generation["latency_ms"] == 2000.0 and generation["ttft_ms"] == 500.0
    assert generation["trace_id"] == "lf-trace-1"
    assert generation["session_id"] == "lf-session-1"
    assert generation["agent_id"] == "answer-question"
    assert generation["model"] == "gpt-4o"
    assert generation["request"] == {
        "messages": fx.LANGFUSE_GENERATION["input"],
        "temperature": 0.7,
        "max_tokens": 256,
    }
    assert generation["response"] == {
        "id": "obs-1",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "An LLM engineering platform."},
            }
        ],
        "usage": {
            "prompt_tokens": 40,
            "completion_tokens": 8,
            "total_tokens": 48,
            "prompt_tokens_details": {"cached_tokens": 10},
        },
    }
    assert generation["cost_usd"] == 0.0005
    assert generation["prompt"] == {"template_id": "qa-prompt", "version": "3"}
    assert generation["metadata"] == {
        "source": "langfuse",
        "observation_name": "answer-question",
        "parent_observation_id": "obs-root",
        "user_id": "lf-user-1",
        "level": "DEFAULT",
        "langfuse_metadata": {"env": "prod"},
    }
    failed = records["obs-2"]
    assert failed["status"] == "error" and failed["error"] == {"message": "context length exceeded"}
    assert failed["request"]["messages"] == [{"role": "user", "content": "Complete: once upon"}]

    feedback = _records(duckdb_env, "feedback")
    assert feedback["score-1"] == {
        "feedback_id": "score-1",
        "request_id": "obs-1",
        "created_at": "2024-05-29T17:00:00+00:00",
        "tenant_id": "default",
        "outcome": "success",
        "completion_quality": 8,
        "source": "judge",
        "comment": "good",
        "metadata": {
            "source": "langfuse",
            "score_name": "helpfulness",
            "data_type": "NUMERIC",
            "trace_id": "lf-trace-1",
        },
    }
    assert feedback["score-2"]["rating"] == -1 and feedback["score-2"]["outcome"] == "user_rejected"
    assert feedback["score-2"]["source"] == "human"

    quarantined = [
        (Path(file).name, line, reason) for file, line, reason, _ in _quarantine(duckdb_env)
    ]
    assert quarantined == [
        ("observations.json", 4, "missing_field"),
        ("scores.json", 3, "missing_field"),
    ]
    _reimport_changes_nothing(args, duckdb_env)


def test_openai_batch_output_joins_its_input_on_custom_id_and_failures_are_error_calls(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    output, batch_input = fx.openai_batch_files(tmp_path)
    args = ["openai-batch", str(output), str(batch_input), "--tenant", "batch-tenant"]
    result = _import(args, duckdb_env)
    records = _records(duckdb_env)

    assert set(records) == {"batch_req_1", "batch_req_2"}
    assert "batch input lines without an output line" in result.stdout
    done = records["batch_req_1"]
    assert done["created_at"] == "2024-03-28T19:06:35Z"
    assert done["model"] == "gpt-4o-mini" and done["served_model"] == "gpt-4o-mini-2024-07-18"
    assert done["provider"] == "openai" and done["endpoint"] == "/v1/chat/completions"
    assert done["tenant_id"] == "batch-tenant" and done["agent_id"] == "openai-batch"
    assert done["request"] == {
        "messages": [{"role": "user", "content": "Classify: great product"}],
        "temperature": 0,
        "max_tokens": 5,
    }
    assert done["response"]["choices"][0]["message"]["content"] == "positive"
    assert done["response"]["usage"] == {
        "prompt_tokens": 22,
        "completion_tokens": 1,
        "total_tokens": 23,
    }
    assert done["metadata"] == {
        "source": "openai-batch",
        "custom_id": "task-1",
        "openai_request_id": "req_abc",
    }

    failed = records["batch_req_2"]
    assert failed["status"] == "error"
    assert failed["error"] == {
        "code": "invalid_value",
        "message": "Invalid value for 'messages'",
        "http_status": 400,
    }
    assert failed["created_at"] == done["created_at"]
    assert failed["metadata"]["time_from"] == "the last success before it"
    assert "response" not in failed

    quarantined = [(line, reason) for _, line, reason, _ in _quarantine(duckdb_env)]
    assert quarantined == [(3, "missing_field"), (4, "invalid_json")]
    _reimport_changes_nothing(args, duckdb_env)


def test_chatgpt_assistant_messages_become_calls_whose_context_is_their_tree_path(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    path = fx.chatgpt_conversations(tmp_path / "conversations.json")
    args = ["chatgpt", str(path)]
    _import(args, duckdb_env)
    records = _records(duckdb_env)

    assert set(records) == set(fx.CHATGPT_TREE)
    assert records["a2e"]["request"]["messages"] == [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi! How can I help?"},
        {"role": "user", "content": "Tell me a poem"},
    ]
    a3 = records["a3"]
    assert [m["content"] for m in a3["request"]["messages"]] == [
        "Hello",
        "Hi! How can I help?",
        "Tell me a joke",
        "Why did the chicken...",
        "Another",
    ]
    assert a3["response"]["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": "To cross the road."},
        "finish_reason": "stop",
    }
    assert a3["session_id"] == "conv-1" and a3["model"] == "gpt-4o"
    assert a3["created_at"] == "2024-05-29T16:26:49Z"
    assert "parent_request_id" not in a3
    assert [(reason) for _, _, reason, _ in _quarantine(duckdb_env)] == ["missing_field"]
    _reimport_changes_nothing(args, duckdb_env)


def test_an_unknown_format_or_missing_file_is_one_line_error(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    for args in (["nope", str(tmp_path)], ["litellm", str(tmp_path / "missing.jsonl")]):
        result = subprocess.run(
            [TRELLIS, "import", *args],
            env={**os.environ, **duckdb_env},
            capture_output=True,
            text=True,
        )
        assert result.returncode == 2
        assert result.stderr.startswith("trellis: error:") and "Traceback" not in result.stderr


@pytest.mark.postgres
def test_litellm_spend_logs_are_read_straight_from_litellm_postgres(
    duckdb_env: dict[str, str], pg_env: dict[str, str]
) -> None:
    import psycopg

    dsn = " ".join(
        f"{name}={pg_env[variable]}"
        for name, variable in (
            ("host", "PGHOST"),
            ("port", "PGPORT"),
            ("user", "PGUSER"),
            ("dbname", "PGDATABASE"),
        )
    )
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(LITELLM_SPEND_LOGS_DDL)
        for row in fx.SPEND_LOG_ROWS[:2]:
            values = {
                key: (json.dumps(value) if isinstance(value, dict | list) else (value or None))
                for key, value in row.items()
            }
            columns = ", ".join(f'"{key}"' for key in values)
            marks = ", ".join(["%s"] * len(values))
            connection.execute(
                f'insert into "LiteLLM_SpendLogs" ({columns}) values ({marks})',
                list(values.values()),
            )
    args = ["litellm", "--from-postgres", dsn, "--tenant-from", "team_alias"]
    _import(args, duckdb_env)
    records = _records(duckdb_env)

    assert set(records) == {"spend-1", "spend-2"}
    assert records["spend-1"]["cost_usd"] == 0.0042
    assert records["spend-1"]["latency_ms"] == 2500.0
    assert records["spend-1"]["tenant_id"] == "support"
    assert records["spend-1"]["created_at"].startswith("2024-05-29T16:26:40")
    assert records["spend-2"]["response"]["choices"][0]["message"]["content"] == "pong"
    before = _counts(duckdb_env)
    _import(args, duckdb_env)
    assert _counts(duckdb_env) == before


#: LiteLLM's table as its Prisma schema creates it (the columns the importer reads).
LITELLM_SPEND_LOGS_DDL = """
create table "LiteLLM_SpendLogs" (
    request_id text primary key,
    call_type text not null,
    api_key text not null default '',
    spend double precision not null default 0.0,
    total_tokens integer not null default 0,
    prompt_tokens integer not null default 0,
    completion_tokens integer not null default 0,
    "startTime" timestamp(3) not null,
    "endTime" timestamp(3) not null,
    "completionStartTime" timestamp(3),
    model text not null default '',
    model_id text default '',
    model_group text default '',
    custom_llm_provider text default '',
    api_base text default '',
    "user" text default '',
    metadata jsonb default '{}',
    cache_hit text default '',
    cache_key text default '',
    request_tags jsonb default '[]',
    team_id text,
    organization_id text,
    end_user text,
    requester_ip_address text,
    messages jsonb default '{}',
    response jsonb default '{}',
    session_id text,
    status text,
    mcp_namespaced_tool_name text,
    proxy_server_request jsonb default '{}'
)
"""
