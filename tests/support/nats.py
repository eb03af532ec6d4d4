"""A real NATS server with JetStream for the tests: $NATS_URL, else one of our own.

Without NATS_URL the suite starts `nats-server -js` on a free loopback port
with a temporary store directory and stops it afterwards, as it does for
PostgreSQL. The binary must be on PATH (the Debian package `nats-server`):
the live-ingest tests are never skipped, they fail saying what is missing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


@contextlib.contextmanager
def provide_nats() -> Iterator[str]:
    """The URL of a NATS server with JetStream enabled."""
    url = os.environ.get("NATS_URL")
    if url:
        yield url
        return
    binary = shutil.which("nats-server")
    if binary is None:
        raise RuntimeError(
            "nats-server is not on PATH: install it (apt-get install nats-server, or the "
            "binary from nats.io) or set NATS_URL to a server with JetStream"
        )
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="trellis-nats-") as store:
        process = subprocess.Popen(
            [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 15
            while not _answers(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"nats-server did not start: {error[-500:]}")
                time.sleep(0.05)
            yield f"nats://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(10)
