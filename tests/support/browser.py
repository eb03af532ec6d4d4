"""Open a page in the system's headless Chromium over the DevTools protocol.

No Playwright browser download: the Debian `chromium` binary, started with a
DevTools port, driven with websocket-client. The page's console errors,
uncaught exceptions, log errors and every network request are collected.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def chromium_binary() -> str | None:
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


@dataclass
class PageVisit:
    """What happened while a page loaded, and what a script said about it after."""

    errors: list[str] = field(default_factory=list)
    requested_urls: list[str] = field(default_factory=list)
    evaluated: Any = None


class _Session:
    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def wait_for(self, method: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout} s")
            self.events.append(json.loads(self.ws.recv()))

    def close(self) -> None:
        self.ws.close()


@contextlib.contextmanager
def _browser(binary: str) -> Iterator[str]:
    """Start Chromium on a free DevTools port; yield the HTTP address of the port."""
    with tempfile.TemporaryDirectory(prefix="trellis-chromium-") as profile:
        process = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "--window-size=1280,900",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # its scratch files go with the profile, removed afterwards
            env={**os.environ, "TMPDIR": profile},
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 30
            while not (port_file.exists() and port_file.read_text().strip()):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("chromium did not open its DevTools port")
                time.sleep(0.05)
            port = port_file.read_text().split()[0]
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def visit(binary: str, page: Path, script: str, screenshot: Path) -> PageVisit:
    """Load a local file, run `script` (an expression) in it and save a full-page PNG."""
    with _browser(binary) as address:
        with urllib.request.urlopen(f"{address}/json/list") as response:
            targets = json.load(response)
        ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        session = _Session(ws_url)
        try:
            for domain in ("Page", "Runtime", "Log", "Network"):
                session.send(f"{domain}.enable")
            session.send("Page.navigate", url=page.resolve().as_uri())
            session.wait_for("Page.loadEventFired")
            result = session.send("Runtime.evaluate", expression=script, returnByValue=True)
            shot = session.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            session.send("Runtime.evaluate", expression="0")  # drain events sent meanwhile
        finally:
            session.close()
    outcome = PageVisit(evaluated=result.get("result", {}).get("value"))
    for event in session.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            outcome.errors.append(json.dumps(params.get("args")))
        elif method == "Runtime.exceptionThrown":
            outcome.errors.append(json.dumps(params.get("exceptionDetails")))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            outcome.errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            outcome.requested_urls.append(params["request"]["url"])
    return outcome
