"""A real OpenAI-compatible `/v1/embeddings` server on 127.0.0.1 for tests.

Vectors are a deterministic function of the text (a seeded random unit
vector from its md5), so a test knows what to expect. `script` queues
statuses to answer before the real answers (429 with Retry-After: 0, 500...).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

DIM = 16


def vector_for(text: str) -> list[float]:
    seed = int.from_bytes(hashlib.md5(text.encode()).digest()[:8], "little")
    values = np.random.default_rng(seed).normal(size=DIM)
    return (values / np.linalg.norm(values)).round(6).tolist()


class EmbeddingsServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(
                        {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                    )
                    status = server.statuses.pop(0) if server.statuses else 200
                if status != 200:
                    payload = json.dumps({"error": {"message": "scripted"}}).encode()
                    self.send_response(status)
                    self.send_header("Retry-After", "0")
                else:
                    texts = body["input"]
                    data = [
                        {"object": "embedding", "index": i, "embedding": vector_for(t)}
                        for i, t in enumerate(texts)
                    ]
                    payload = json.dumps(
                        {"object": "list", "data": data, "model": body["model"]}
                    ).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@contextlib.contextmanager
def running_embeddings_server() -> Iterator[EmbeddingsServer]:
    server = EmbeddingsServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
