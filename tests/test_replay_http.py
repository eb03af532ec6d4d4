"""The chat client against a real OpenAI-compatible server on 127.0.0.1 that misbehaves."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.openai_server import OpenAIServer, running_server
from trellis.runners.kit.http_client import (
    CallResult,
    ChatClient,
    backoff_delay,
    parse_retry_after,
)
from trellis.runners.kit.ratelimit import TokenBucket
from trellis.runners.kit.settings import Endpoint, RunSettings

BODY = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
FAST = RunSettings(
    concurrency=4, max_attempts=4, timeout_s=0.5, backoff_base_s=0.01, backoff_max_s=0.05
)


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with running_server() as srv:
        yield srv


def call(
    server: OpenAIServer,
    settings: RunSettings = FAST,
    body: dict[str, Any] = BODY,
    endpoint: Endpoint | None = None,
    count: int = 1,
) -> list[CallResult]:
    async def go() -> list[CallResult]:
        async with ChatClient(settings) as client:
            target = endpoint or Endpoint(server.base_url)
            return list(
                await asyncio.gather(*(client.complete(target, body, 10) for _ in range(count)))
            )

    return asyncio.run(go())


def test_a_well_formed_completion_is_returned_with_usage(server: OpenAIServer) -> None:
    [result] = call(server)
    assert result.ok and result.attempts == 1 and result.http_status == 200
    assert result.response is not None
    assert result.response["choices"][0]["message"]["role"] == "assistant"
    assert result.total_tokens > 0


def test_429_is_retried_after_the_retry_after_delay(server: OpenAIServer) -> None:
    server.script("429:0.4")
    started = time.monotonic()
    [result] = call(server)
    assert result.ok and result.attempts == 2
    assert time.monotonic() - started >= 0.4


def test_500_malformed_json_and_a_dropped_connection_are_retried(server: OpenAIServer) -> None:
    server.script("500", "malformed", "drop")
    [result] = call(server)
    assert result.ok and result.attempts == 4


def test_a_hanging_server_times_out_and_the_call_is_retried(server: OpenAIServer) -> None:
    server.script("hang")
    started = time.monotonic()
    [result] = call(server)
    assert result.ok and result.attempts == 2
    assert 0.5 <= time.monotonic() - started < 5


def test_a_call_that_keeps_failing_ends_with_its_reason(server: OpenAIServer) -> None:
    server.state.default = "500"
    [result] = call(server, RunSettings(max_attempts=3, backoff_base_s=0.01, timeout_s=1))
    assert not result.ok and result.attempts == 3
    assert result.error == "HTTP 500: internal error"


def test_a_client_error_is_not_retried(server: OpenAIServer) -> None:
    server.script("400")
    [result] = call(server)
    assert not result.ok and result.attempts == 1 and result.http_status == 400
    assert result.error == "HTTP 400: bad request"


def test_an_unreachable_endpoint_fails_with_a_connection_error() -> None:
    with running_server() as srv:
        port = srv.port
    [result] = call(
        srv,
        RunSettings(max_attempts=2, backoff_base_s=0.01),
        endpoint=Endpoint(f"http://127.0.0.1:{port}/v1"),
    )
    assert not result.ok and result.attempts == 2
    assert "ConnectError" in (result.error or "")


def test_requests_per_second_limit_paces_calls(server: OpenAIServer) -> None:
    started = time.monotonic()
    results = call(
        server, RunSettings(concurrency=8), endpoint=Endpoint(server.base_url, rps=20), count=30
    )
    assert all(r.ok for r in results)
    # A burst of 20, then 10 more at 20/s.
    assert time.monotonic() - started >= 0.45


def test_concurrency_is_bounded_by_the_lanes(server: OpenAIServer) -> None:
    server.state.latency = 0.1
    started = time.monotonic()
    results = call(server, RunSettings(concurrency=4), count=12)
    assert all(r.ok for r in results)
    assert time.monotonic() - started >= 0.3  # 12 calls, 4 at a time, 0.1 s each


def test_the_api_key_comes_from_the_environment_and_is_sent_as_bearer(
    server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_REPLAY_KEY", "sk-test-123")
    call(server, endpoint=Endpoint(server.base_url, api_key_env="TEST_REPLAY_KEY"))
    call(server)
    assert server.state.headers[0]["authorization"] == "Bearer sk-test-123"
    assert "authorization" not in server.state.headers[1]


def test_tokens_per_minute_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate_per_s=1000 / 60, capacity=1000, clock=lambda: now[0])
    assert bucket.wait_time(600) == 0
    bucket.take(600)
    assert bucket.wait_time(600) == pytest.approx(200 / (1000 / 60))
    now[0] = 12.0  # 200 tokens later
    assert bucket.wait_time(600) == 0


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("garbage") is None
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after(when) or 0) <= 31


def test_backoff_grows_exponentially_with_full_jitter() -> None:
    assert backoff_delay(1, 0.5, 30, rng=lambda: 1.0) == 0.5
    assert backoff_delay(4, 0.5, 30, rng=lambda: 1.0) == 4.0
    assert backoff_delay(10, 0.5, 30, rng=lambda: 1.0) == 30
    assert backoff_delay(3, 0.5, 30, rng=lambda: 0.0) == 0.0
