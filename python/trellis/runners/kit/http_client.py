"""Calls to OpenAI-compatible `/chat/completions` endpoints, with retries and limits.

Built on httpcore, the HTTP engine of httpx, without httpx's client layers
(auth flows, redirects, cookies, request/response models): those double the
CPU per call, and one process has to sustain hundreds of calls per second.
Concurrency is a fixed set of lanes, each a pool of one keep-alive
connection: a single shared pool with many waiters costs far more per call,
and the lanes bound concurrency by construction. A lane is held for one
attempt only; backoff sleeps do not hold it.

Answers are asked for whole (`stream: false`): a logged request's `stream` or
`stream_options` is a transport setting of the original client, and
forwarding it would turn the reply into server-sent events this runner
would have to reassemble. Error texts are scrubbed of the key sent (and of
anything shaped like a credential) before they go anywhere.

Retried: 429 (honouring Retry-After), 408, 409, 5xx, timeouts, transport
errors and broken responses (not JSON, no choices). Anything else (a 400, a
401...) fails at once: repeating it cannot help.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from trellis.runners.kit.ratelimit import EndpointLimiter
from trellis.runners.kit.secrets import scrub
from trellis.runners.kit.settings import Endpoint, RunSettings

RETRYABLE_STATUS = frozenset({408, 409, 429})
#: Settings of how the original client received its answer, never forwarded.
TRANSPORT_KEYS = frozenset({"stream", "stream_options"})
MAX_RETRY_AFTER_S = 300.0


@dataclass(frozen=True)
class CallResult:
    ok: bool
    response: dict[str, Any] | None
    error: str | None
    http_status: int | None
    attempts: int
    started_at: dt.datetime
    completed_at: dt.datetime
    latency_ms: float
    timed_out: bool = False

    @property
    def total_tokens(self) -> int:
        usage = (self.response or {}).get("usage") or {}
        total = 0
        for key in ("prompt_tokens", "completion_tokens"):
            value = usage.get(key)
            total += value if isinstance(value, int) else 0
        return total


class _Retry(Exception):
    def __init__(
        self,
        reason: str,
        status: int | None = None,
        retry_after: float | None = None,
        timed_out: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.timed_out = timed_out


class _Fatal(Exception):
    def __init__(self, reason: str, status: int | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = now if now is not None else time.time()
    return min(MAX_RETRY_AFTER_S, max(0.0, when.timestamp() - current))


def backoff_delay(
    attempt: int, base: float, cap: float, rng: Callable[[], float] = random.random
) -> float:
    """Exponential backoff with full jitter (attempt 1 is the first retry)."""
    return rng() * min(cap, base * (2 ** (attempt - 1)))


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error_message(content: bytes) -> str:
    try:
        body = json.loads(content)
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
    except ValueError:
        message = None
    return _short(str(message or content.decode("utf-8", "replace") or "no body"))


def validate_completion(body: Any) -> dict[str, Any]:
    """The parts of a response the runner relies on; anything else is a broken response."""
    if not isinstance(body, dict):
        raise ValueError("response is not a JSON object")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("response has no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict) or "role" not in message:
        raise ValueError("response has no choices[0].message")
    return body


class ChatClient:
    def __init__(
        self,
        settings: RunSettings,
        endpoints: Mapping[str, Endpoint] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.rng = rng
        # One for all lanes: building an SSL context loads the CA bundle each time.
        ssl_context = httpx.create_ssl_context()
        self._timeouts = {
            "connect": settings.timeout_s,
            "read": settings.timeout_s,
            "write": settings.timeout_s,
            "pool": settings.timeout_s,
        }
        self._lanes: asyncio.Queue[httpcore.AsyncConnectionPool] = asyncio.Queue()
        self._clients = [
            httpcore.AsyncConnectionPool(ssl_context=ssl_context, max_connections=1)
            for _ in range(settings.concurrency)
        ]
        for client in self._clients:
            self._lanes.put_nowait(client)
        self._limiters: dict[str, EndpointLimiter] = {}
        self._secrets: set[str] = set()
        for endpoint in (endpoints or {}).values():
            self.limiter(endpoint)

    def limiter(self, endpoint: Endpoint) -> EndpointLimiter:
        limiter = self._limiters.get(endpoint.base_url)
        if limiter is None:
            limiter = EndpointLimiter(endpoint.rps, endpoint.tpm)
            self._limiters[endpoint.base_url] = limiter
        return limiter

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def complete(
        self,
        endpoint: Endpoint,
        body: Mapping[str, Any],
        estimated_tokens: int = 0,
        headers: Mapping[str, str] | None = None,
    ) -> CallResult:
        """One chat completion, retried until it succeeds or attempts run out. Never raises
        for a failed call: the failure is the result."""
        body = {k: v for k, v in body.items() if k not in TRANSPORT_KEYS} | {"stream": False}
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        url = httpcore.URL(f"{endpoint.base_url}/chat/completions")
        all_headers = [
            (b"host", url.host + (b":%d" % url.port if url.port else b"")),
            (b"content-type", b"application/json"),
            (b"accept", b"application/json"),
            *((k.encode(), v.encode()) for k, v in (headers or {}).items()),
        ]
        key = endpoint.api_key()
        if key:
            self._secrets.add(key)  # every key sent by this client is scrubbed from every error
            all_headers.append((b"authorization", f"Bearer {key}".encode()))
        limiter = self.limiter(endpoint)
        started_at = dt.datetime.now(dt.UTC)
        t0 = time.perf_counter()
        attempt = 0
        while True:
            attempt += 1
            await limiter.acquire(estimated_tokens)
            try:
                response = await self._attempt(url, content, all_headers)
            except _Retry as retry:
                if retry.retry_after is not None:
                    limiter.pause(retry.retry_after)
                if attempt >= self.settings.max_attempts:
                    return self._result(
                        False,
                        None,
                        retry.reason,
                        retry.status,
                        attempt,
                        started_at,
                        t0,
                        retry.timed_out,
                    )
                delay = backoff_delay(
                    attempt, self.settings.backoff_base_s, self.settings.backoff_max_s, self.rng
                )
                await self.sleep(max(delay, retry.retry_after or 0.0))
                continue
            except _Fatal as fatal:
                return self._result(
                    False, None, fatal.reason, fatal.status, attempt, started_at, t0
                )
            return self._result(True, response, None, 200, attempt, started_at, t0)

    def _result(
        self,
        ok: bool,
        response: dict[str, Any] | None,
        error: str | None,
        status: int | None,
        attempts: int,
        started_at: dt.datetime,
        t0: float,
        timed_out: bool = False,
    ) -> CallResult:
        return CallResult(
            ok=ok,
            response=response,
            error=None if error is None else scrub(error, self._secrets),
            http_status=status,
            attempts=attempts,
            started_at=started_at,
            completed_at=dt.datetime.now(dt.UTC),
            latency_ms=round((time.perf_counter() - t0) * 1000, 3),
            timed_out=timed_out,
        )

    async def _attempt(
        self, url: httpcore.URL, content: bytes, headers: list[tuple[bytes, bytes]]
    ) -> dict[str, Any]:
        client = await self._lanes.get()
        try:
            try:
                response = await client.request(
                    "POST",
                    url,
                    headers=headers,
                    content=content,
                    extensions={"timeout": self._timeouts},
                )
            except httpcore.TimeoutException:
                raise _Retry(
                    f"timeout after {self.settings.timeout_s:g}s", timed_out=True
                ) from None
            except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
                reason = _short(str(exc)) or "connection failed"
                raise _Retry(f"{type(exc).__name__}: {reason}") from None
        finally:
            self._lanes.put_nowait(client)
        status = response.status
        if status == 429 or status in RETRYABLE_STATUS or status >= 500:
            raise _Retry(
                f"HTTP {status}: {_error_message(response.content)}",
                status,
                parse_retry_after(_header(response.headers, b"retry-after")),
            )
        if status >= 400:
            raise _Fatal(f"HTTP {status}: {_error_message(response.content)}", status)
        try:
            return validate_completion(json.loads(response.content))
        except ValueError as exc:
            raise _Retry(f"broken response: {_short(str(exc), 120)}", status) from None


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None
