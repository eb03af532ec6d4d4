"""A real OpenAI-compatible chat-completions server on 127.0.0.1, for tests and benchmarks.

Raw asyncio (HTTP/1.1 with keep-alive), because a thread per connection or a
framework would cap the rates the replay benchmark has to prove. It can be
told to misbehave: every request takes the next behaviour from a FIFO script
(or the default one), or the behaviour named by the request's model
(`fault:<behaviour>`):

- `ok`: a well-formed completion after `latency` seconds;
- `slow:<seconds>`: the same after that many seconds;
- `429:<retry_after>`: HTTP 429 with a `Retry-After` header;
- `500`: HTTP 500 with an OpenAI error body; `400`: HTTP 400 (not retryable);
- `hang`: never answers (until the client gives up and closes);
- `malformed`: HTTP 200 whose body is not JSON;
- `drop`: closes the connection without answering;
- `nul`: a completion whose reply holds a NUL character (ingest quarantines it);
- `negative_usage`: a completion with `usage.prompt_tokens: -5` (quarantined too);
- `echo_auth`: HTTP 400 whose error message echoes the request's Authorization
  header, as some proxies do.

Run it on its own for benchmarks: `python -m tests.openai_server --latency-ms 100`
prints `PORT <n>` and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


@dataclass
class ServerState:
    latency: float = 0.0
    default: str = "ok"
    script: collections.deque[str] = field(default_factory=collections.deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    keep_requests: bool = True
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: When set, the reply text for a request body (tests make judges say `SCORE: 7`).
    replier: Callable[[dict[str, Any]], str] | None = None

    def next_behaviour(self, body: dict[str, Any], headers: dict[str, str]) -> str:
        with self.lock:
            self.count += 1
            if self.keep_requests:
                self.requests.append(body)
                self.headers.append(headers)
            model = str(body.get("model", ""))
            if model.startswith("fault:"):
                return model.removeprefix("fault:")
            if self.script:
                return self.script.popleft()
            return self.default


def completion_for(
    body: dict[str, Any], replier: Callable[[dict[str, Any]], str] | None = None
) -> dict[str, Any]:
    """A deterministic answer: the same request always gets the same reply."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    content = last.get("content") if isinstance(last, dict) else None
    text = content if isinstance(content, str) else json.dumps(content)
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]
    reply = replier(body) if replier is not None else f"reply {digest} to: {text[:80]}"
    prompt_tokens = max(1, len(json.dumps(messages)) // 4)
    completion_tokens = max(1, len(reply) // 4)
    return {
        "id": f"chatcmpl-{digest}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": body.get("model", "unknown"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    all_headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    all_headers.update(headers or {})
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> bytes:
    body = {"error": {"message": message, "type": "server_error", "code": str(status)}}
    return _response(status, json.dumps(body).encode(), headers)


class _Connection(asyncio.Protocol):
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.queue: asyncio.Queue[tuple[str, dict[str, str], bytes, float] | None] = asyncio.Queue()
        self.worker: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.worker = asyncio.get_running_loop().create_task(self._serve())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1")
            headers: dict[str, str] = {}
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < head_end + 4 + length:
                return
            body = self.buffer[head_end + 4 : head_end + 4 + length]
            self.buffer = self.buffer[head_end + 4 + length :]
            arrived = asyncio.get_running_loop().time()
            self.queue.put_nowait((head.split("\r\n", 1)[0], headers, body, arrived))

    async def _serve(self) -> None:
        # Requests on one connection are answered in order (HTTP/1.1).
        while True:
            item = await self.queue.get()
            if item is None or self.transport is None:
                return
            request_line, headers, raw, arrived = item
            reply = await self._answer(request_line, headers, raw, arrived)
            if reply is None:
                self.transport.close()
                return
            self.transport.write(reply)

    async def _answer(
        self, request_line: str, headers: dict[str, str], raw: bytes, arrived: float
    ) -> bytes | None:
        parts = request_line.split(" ")
        if len(parts) < 2 or parts[0] != "POST" or not parts[1].endswith("/chat/completions"):
            return _error(404, f"no route {request_line}")
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "request body is not JSON")
        behaviour = self.state.next_behaviour(body, headers)
        name, _, arg = behaviour.partition(":")
        if name == "hang":
            await asyncio.sleep(3600)
        if name == "drop":
            return None
        if name == "429":
            return _error(429, "rate limited", {"Retry-After": arg or "1"})
        if name == "500":
            return _error(500, "internal error")
        if name == "400":
            return _error(400, "bad request")
        if name == "echo_auth":
            echoed = headers.get("authorization", "")
            return _error(400, f"invalid key; you sent Authorization: {echoed}")
        # The latency counts from the request's arrival, as a real backend's would:
        # time spent queued behind other requests on this server is part of it.
        delay = float(arg) if name == "slow" else self.state.latency
        remaining = delay - (asyncio.get_running_loop().time() - arrived)
        if remaining > 0:
            await asyncio.sleep(remaining)
        if name == "malformed":
            return _response(200, b'{"id": "chatcmpl-broken", "choices": [')
        completion = completion_for(body, self.state.replier)
        if name == "nul":
            completion["choices"][0]["message"]["content"] = "half\u0000reply"
        if name == "negative_usage":
            completion["usage"]["prompt_tokens"] = -5
        return _response(200, json.dumps(completion).encode())


class OpenAIServer:
    """The server on a background thread with its own event loop."""

    def __init__(self, latency: float = 0.0, keep_requests: bool = True) -> None:
        self.state = ServerState(latency=latency, keep_requests=keep_requests)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *behaviours: str) -> None:
        with self.state.lock:
            self.state.script.extend(behaviours)

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.requests)

    def start(self) -> OpenAIServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self._server = future.result(timeout=10)
        return self

    async def _start(self) -> asyncio.AbstractServer:
        server = await self._loop.create_server(
            lambda: _Connection(self.state), "127.0.0.1", 0, backlog=1024
        )
        self.port = server.sockets[0].getsockname()[1]
        return server

    def stop(self) -> None:
        async def _stop() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@contextlib.contextmanager
def running_server(latency: float = 0.0, keep_requests: bool = True) -> Iterator[OpenAIServer]:
    server = OpenAIServer(latency=latency, keep_requests=keep_requests).start()
    try:
        yield server
    finally:
        server.stop()


async def _serve_forever(port: int, latency: float) -> None:
    state = ServerState(latency=latency, keep_requests=False)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(state), "127.0.0.1", port, backlog=1024)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.port, args.latency_ms / 1000))


if __name__ == "__main__":
    main()
