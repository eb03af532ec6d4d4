"""Replay as a library: plan a manifest, write it ahead into the job log, work the queue."""

from __future__ import annotations

import asyncio
import importlib.abc
import importlib.util
import socket
import sys
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

from trellis.errors import TrellisError
from trellis.services.replay.db import Db
from trellis.services.replay.executor import ReplayExecutor
from trellis.services.replay.http_client import ChatClient
from trellis.services.replay.joblog import JobLog
from trellis.services.replay.manifest import Endpoint, ReplayManifest, RunSettings
from trellis.services.replay.planner import Plan, plan_replay
from trellis.services.replay.prices import PriceTable
from trellis.services.replay.runner import Executor, Progress, Runner, RunSummary, new_worker_id
from trellis.services.replay.stale import CurrentVersions


class _KnownMissing(importlib.abc.MetaPathFinder):
    """DuckDB's client tries `import pandas` on every parameterised statement; when pandas is
    not installed each attempt walks sys.path again (~0.3 ms, several per statement). This
    finder answers "not installed" at once for modules known to be absent; the outcome of
    the import is the same, only faster."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)


def _remember_missing(*modules: str) -> None:
    missing = {m for m in modules if m not in sys.modules and importlib.util.find_spec(m) is None}
    if missing and not any(isinstance(f, _KnownMissing) for f in sys.meta_path):
        sys.meta_path.insert(0, _KnownMissing(missing))


_remember_missing("pandas")


@dataclass(frozen=True)
class Enqueued:
    plan: Plan
    new_tasks: int


def check_reachable(endpoints: Iterable[Endpoint], timeout_s: float = 3.0) -> None:
    """Fail fast, in one line, when an endpoint does not even accept a connection."""
    for endpoint in {e.base_url: e for e in endpoints}.values():
        url = urllib.parse.urlsplit(endpoint.base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise TrellisError(f"endpoint {endpoint.base_url!r} is not an http(s) URL")
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            with socket.create_connection((url.hostname, port), timeout=timeout_s):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise TrellisError(f"endpoint {endpoint.base_url} is unreachable: {reason}") from None


def plan(
    db: Db,
    manifest: ReplayManifest,
    prices: PriceTable | None = None,
    versions: CurrentVersions | None = None,
) -> Plan:
    return plan_replay(db, manifest, prices, versions)


def enqueue(
    db: Db, manifest: ReplayManifest, the_plan: Plan, raw_manifest: dict[str, object]
) -> Enqueued:
    joblog = JobLog(db, "planner")
    joblog.ensure()
    joblog.register_cohort(the_plan.cohort_id, "replay", manifest.name, raw_manifest)
    return Enqueued(the_plan, joblog.enqueue(the_plan.cohort_id, the_plan.tasks))


def work(
    db: Db,
    cohort_id: str,
    executor: Executor,
    endpoints: dict[str, Endpoint],
    settings: RunSettings,
    progress: Progress | None = None,
    max_tasks: int | None = None,
    worker_id: str | None = None,
) -> RunSummary:
    """Work the cohort's queue to the end (several processes may do this at once on PostgreSQL)."""
    joblog = JobLog(db, worker_id or new_worker_id())
    joblog.ensure()

    async def _go() -> RunSummary:
        async with ChatClient(settings, endpoints) as client:
            return await Runner(db, joblog, executor, client, settings, progress).run(
                cohort_id, max_tasks
            )

    return asyncio.run(_go())


def run_replay(
    db: Db,
    manifest: ReplayManifest,
    raw_manifest: dict[str, object],
    progress: Progress | None = None,
    max_tasks: int | None = None,
) -> tuple[Enqueued, RunSummary]:
    the_plan = plan(db, manifest)
    enqueued = enqueue(db, manifest, the_plan, raw_manifest)
    endpoints = {v.model: manifest.endpoint_for(v.model) for v in manifest.variants}
    check_reachable(endpoints.values())
    executor = ReplayExecutor(endpoints, source=f"replay:{the_plan.cohort_id}")
    summary = work(db, the_plan.cohort_id, executor, endpoints, manifest.run, progress, max_tasks)
    return enqueued, summary
