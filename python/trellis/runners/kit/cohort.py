"""One way to run a cohort, whatever its calls are: `run_cohort(plan, executor)`.

A planner (replay, judge, ...) turns a manifest into a CohortPlan: tasks
with everything their calls need, the endpoints per model, the run settings
and an estimate of tokens and cost. Running it is the same for every kind:

1. refuse before any call: an API key variable that is not set, an estimate
   above `max_cost_usd` (or no estimate at all when a ceiling is given);
2. write every task ahead into the job log (`runner.jobs`);
3. fail fast on an endpoint that does not accept connections;
4. work the queue (trellis.runners.kit.worker) until nothing is left.
"""

from __future__ import annotations

import asyncio
import importlib.abc
import importlib.util
import json
import socket
import sys
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trellis.errors import TrellisError
from trellis.runners.kit.db import Db
from trellis.runners.kit.http_client import ChatClient
from trellis.runners.kit.joblog import JobLog, NewTask
from trellis.runners.kit.settings import (
    GATEWAY_URL_ENV,
    Endpoint,
    RunSettings,
    require_api_keys,
)
from trellis.runners.kit.worker import Executor, Progress, Runner, RunSummary, new_worker_id


class _KnownMissing(importlib.abc.MetaPathFinder):
    """DuckDB's client tries `import pandas` on every parameterised statement; when pandas is
    not installed each attempt walks sys.path again (several per statement). This finder
    answers "not installed" at once for modules known to be absent; the outcome of the
    import is the same, only faster."""

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
class Estimate:
    calls: int
    input_tokens: int
    output_tokens: int
    #: None when any model has no price in force (see unpriced_models).
    cost_usd: float | None
    unpriced_models: tuple[str, ...] = ()


@dataclass(frozen=True)
class CohortPlan:
    """Everything a run needs, decided before the first call."""

    cohort_id: str
    kind: str
    name: str | None
    manifest: Mapping[str, Any]
    tasks: list[NewTask]
    endpoints: Mapping[str, Endpoint]
    settings: RunSettings
    estimate: Estimate
    details: Mapping[str, Any] = field(default_factory=dict)
    #: Models with no endpoint in the manifest and no gateway configured.
    no_endpoint: tuple[str, ...] = ()


@dataclass(frozen=True)
class CohortRun:
    plan: CohortPlan
    new_tasks: int
    summary: RunSummary


def estimate_tokens(messages: Sequence[Any]) -> int:
    """About four characters a token: enough to plan spend and pace a tokens-per-minute limit."""
    return max(1, len(json.dumps(messages, separators=(",", ":"))) // 4)


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


def check_cost(plan: CohortPlan, max_cost_usd: float | None) -> None:
    """Refuse a run whose estimate is above the ceiling, or unknown when there is one."""
    if max_cost_usd is None:
        return
    cost = plan.estimate.cost_usd
    if cost is None:
        models = ", ".join(plan.estimate.unpriced_models) or "some models"
        raise TrellisError(
            f"--max-cost {max_cost_usd:g}: the cost cannot be estimated (no price in force for "
            f"{models}); build the prices (`dbt build --select int_model_prices_ranked`) "
            "or run without --max-cost"
        )
    if cost > max_cost_usd:
        raise TrellisError(
            f"estimated cost ${cost:,.4f} is above --max-cost ${max_cost_usd:,.4f}: nothing sent"
        )


def enqueue(db: Db, plan: CohortPlan) -> int:
    """Write the plan's tasks into the job log; how many were new."""
    joblog = JobLog(db, "planner")
    joblog.ensure()
    joblog.register_cohort(plan.cohort_id, plan.kind, plan.name, dict(plan.manifest))
    return joblog.enqueue(plan.cohort_id, plan.tasks)


def work(
    db: Db,
    cohort_id: str,
    executor: Executor,
    endpoints: Mapping[str, Endpoint],
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


def run_cohort(
    db: Db,
    plan: CohortPlan,
    executor: Executor,
    progress: Progress | None = None,
    max_tasks: int | None = None,
    max_cost_usd: float | None = None,
) -> CohortRun:
    """Check, write ahead and work one cohort (see the module docstring)."""
    if plan.no_endpoint:
        raise TrellisError(
            f"no endpoint for model {plan.no_endpoint[0]!r}: add it under `endpoints:` "
            f"or set {GATEWAY_URL_ENV}"
        )
    require_api_keys(plan.endpoints.values())
    check_cost(plan, max_cost_usd)
    new = enqueue(db, plan)
    check_reachable(plan.endpoints.values())
    summary = work(db, plan.cohort_id, executor, plan.endpoints, plan.settings, progress, max_tasks)
    return CohortRun(plan, new, summary)
