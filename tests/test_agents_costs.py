"""Agents and costs marts (`tag:agents`, `tag:costs`) end to end, on both targets.

Generated traffic (the real generator) plus a hand-written file of edge cases
goes through the real ingest service; dbt builds the marts; the test then
recomputes, in plain Python from the raw records and seeds/model_prices.csv,
what the marts must say: cost per agent and day and per tenant and day, the
latency percentiles per agent and hour (numpy's default, linear), and the
confidence recursion on idle days.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.dbt import PROJECT_DIR, run_dbt
from trellis.ingest import ingest_files
from trellis.storage import open_store
from trellis_demo.generate import generate

pytestmark = pytest.mark.slow

Target = tuple[str, dict[str, str]]

START = date(2026, 3, 1)
DAYS = 10
LATE_AGENT = "late-agent"  # first call mid-period, then idle, then back on the last day
UNKNOWN_MODEL = "mystery-llm-7"
SELECT = ["--select", "tag:agents", "tag:costs"]  # seeds and staging carry the tags too


# --- independent computation -------------------------------------------------


@dataclass(frozen=True)
class Price:
    pattern: str
    provider: str
    tier: str
    token_type: str
    valid_from: date
    per_million: float | None
    per_second: float | None


def load_prices() -> list[Price]:
    with (PROJECT_DIR / "seeds" / "model_prices.csv").open() as handle:
        return [
            Price(
                row["model_pattern"],
                row["provider"],
                row["model_tier"],
                row["token_type"],
                date.fromisoformat(row["valid_from"]),
                float(row["usd_per_million_tokens"]) if row["usd_per_million_tokens"] else None,
                float(row["usd_per_second"]) if row["usd_per_second"] else None,
            )
            for row in csv.DictReader(handle)
        ]


def price_in_force(
    prices: list[Price], model: str, provider: str | None, token_type: str, day: date
) -> Price | None:
    """Longest matching pattern (then pattern, provider), then the row in force on `day`."""
    matching = [
        p
        for p in prices
        if p.token_type == token_type
        and re.search(p.pattern, model)
        and (provider is None or p.provider == provider)
    ]
    if not matching:
        return None
    best = min(matching, key=lambda p: (-len(p.pattern), p.pattern, p.provider))
    rows = [
        p
        for p in matching
        if (p.pattern, p.provider) == (best.pattern, best.provider) and p.valid_from <= day
    ]
    return max(rows, key=lambda p: p.valid_from) if rows else None


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass
class Call:
    request_id: str
    tenant_id: str
    agent_id: str
    day: date
    hour: datetime
    prompt: int
    cached: int
    completion: int
    latency_ms: float | None
    cost_usd: float | None


def expected_call(
    request_id: str, tenant_id: str, record: dict[str, Any], prices: list[Price]
) -> Call:
    created = parse_ts(record["created_at"])
    usage = (record.get("response") or {}).get("usage") or {}
    prompt = usage.get("prompt_tokens") or 0
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    cache_read = usage.get("cache_read_input_tokens")
    if cached is None and cache_read is not None:  # Anthropic style: convert, bill once
        prompt, cached = prompt + cache_read, cache_read
    cached = cached or 0
    completion = usage.get("completion_tokens") or 0
    latency = record.get("latency_ms")
    if latency is None and record.get("completed_at"):
        latency = (parse_ts(record["completed_at"]) - created).total_seconds() * 1000.0
    cost = record.get("cost_usd")
    if cost is None:
        model = record.get("served_model") or record["model"]
        provider = record.get("provider")
        found = {
            t: price_in_force(prices, model, provider, t, created.date())
            for t in ("input", "cached_input", "output", "compute")
        }
        if found["input"] and found["output"]:
            cached_price = (found["cached_input"] or found["input"]).per_million
            cost = (
                (prompt - cached) * found["input"].per_million
                + cached * cached_price
                + completion * found["output"].per_million
            ) / 1e6
            if found["compute"] and latency is not None:
                cost += latency / 1000.0 * found["compute"].per_second
    return Call(
        request_id,
        tenant_id,
        record.get("agent_id") or "unknown",
        created.date(),
        created.replace(minute=0, second=0, microsecond=0),
        prompt,
        cached,
        completion,
        None if latency is None else float(latency),
        None if cost is None else float(cost),
    )


# --- traffic -------------------------------------------------------------------


def edge_case_records() -> list[dict[str, Any]]:
    """An agent that appears mid-period and goes idle, an unpriced model, no feedback."""

    def call(
        n: int, day: int, model: str, provider: str, served: str | None = None
    ) -> dict[str, Any]:
        created = datetime(START.year, START.month, START.day, 9, 30, tzinfo=UTC) + timedelta(
            days=day, minutes=n
        )
        return {
            "request_id": f"edge_{n}",
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "tenant_id": "acme",
            "agent_id": LATE_AGENT,
            "model": model,
            **({"served_model": served} if served else {}),
            "provider": provider,
            "request": {"messages": [{"role": "user", "content": f"edge case {n}"}]},
            "response": {
                "id": f"resp_edge_{n}",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "ok"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": 1000 + n,
                    "completion_tokens": 50 + n,
                    "prompt_tokens_details": {"cached_tokens": 400},
                },
            },
            "status": "success",
            "latency_ms": 100 + 10 * n,
        }

    return [
        call(1, 4, "gpt-4o-mini", "openai", "gpt-4o-mini-2024-07-18"),
        call(2, 4, "gpt-4o-mini", "openai", "gpt-4o-mini-2024-07-18"),
        call(3, 4, UNKNOWN_MODEL, "acme"),
        call(4, DAYS - 1, "gpt-4o-mini", "openai", "gpt-4o-mini-2024-07-18"),
        call(5, DAYS - 1, UNKNOWN_MODEL, "acme"),
    ]


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("agents-traffic")
    generate(out, requests=1500, seed=11, tenants=3, start=START, days=DAYS, malformed=False)
    edge = out / "edge" / "edge.jsonl"
    edge.parent.mkdir()
    edge.write_text("".join(json.dumps(r) + "\n" for r in edge_case_records()))
    return out


def ingest(target: str, traffic: Path) -> None:
    requests = [*sorted((traffic / "requests").iterdir()), traffic / "edge" / "edge.jsonl"]
    with open_store(target) as store:  # type: ignore[arg-type]
        ingest_files(store, "requests", requests)
        ingest_files(store, "feedback", sorted((traffic / "feedback").iterdir()))


def query(target: str, sql: str) -> list[tuple[Any, ...]]:
    with open_store(target) as store:  # type: ignore[arg-type]
        return store.query(sql)


def raw_calls(target: str) -> Iterator[Call]:
    prices = load_prices()
    for request_id, tenant_id, record in query(
        target, "select request_id, tenant_id, record from raw.requests"
    ):
        parsed = json.loads(record) if isinstance(record, str) else record
        yield expected_call(request_id, tenant_id, parsed, prices)


def close(a: float | None, b: float | None, rel: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-12)


# --- the test ------------------------------------------------------------------


def test_agents_costs_marts_match_an_independent_computation(
    target_env: Target, traffic: Path, tmp_path: Path
) -> None:
    target, env = target_env
    ingest(target, traffic)
    run_dbt(["build", *SELECT], env, target, tmp_path / "dbt")
    calls = list(raw_calls(target))
    last_day = max(c.day for c in calls)

    # Cost per agent x day: equal to the Python computation, zero-filled idle days.
    expected: dict[tuple[str, date], dict[str, float]] = defaultdict(
        lambda: {"calls": 0, "unpriced": 0, "cost": 0.0, "prompt": 0, "cached": 0, "completion": 0}
    )
    for c in calls:
        e = expected[(c.agent_id, c.day)]
        e["calls"] += 1
        e["prompt"] += c.prompt
        e["cached"] += c.cached
        e["completion"] += c.completion
        if c.cost_usd is None:
            e["unpriced"] += 1
        else:
            e["cost"] += c.cost_usd
    rows = query(
        target,
        "select agent_id, cost_date, call_count, unpriced_call_count, cost_usd, prompt_tokens,"
        " cached_tokens, completion_tokens, cost_per_call_usd, has_unpriced_calls"
        " from costs.daily_agent_costs",
    )
    got = {(r[0], r[1]): r for r in rows}
    assert len(got) == len(rows)
    for key, e in expected.items():
        row = got[key]
        assert (row[2], row[3], row[5], row[6], row[7]) == (
            e["calls"],
            e["unpriced"],
            e["prompt"],
            e["cached"],
            e["completion"],
        ), key
        assert close(row[4], e["cost"]), (key, row[4], e["cost"])
        assert row[9] == (e["unpriced"] > 0)
    for key, row in got.items():
        if key not in expected:  # a zero-traffic day inside the agent's period
            assert (row[2], row[4], row[8], row[9]) == (0, 0.0, 0.0, False), key
    first_late = min(c.day for c in calls if c.agent_id == LATE_AGENT)
    late_days = sorted(d for a, d in got if a == LATE_AGENT)
    assert late_days[0] == first_late and late_days[-1] == last_day
    assert len(late_days) == (last_day - first_late).days + 1

    # Per tenant x day.
    tenant_expected: dict[tuple[str, date], float] = defaultdict(float)
    for c in calls:
        tenant_expected[(c.tenant_id, c.day)] += c.cost_usd or 0.0
    tenant_rows = {
        (r[0], r[1]): r[2]
        for r in query(
            target, "select tenant_id, cost_date, cost_usd from costs.daily_tenant_costs"
        )
    }
    for key, cost in tenant_expected.items():
        assert close(tenant_rows[key], cost), key

    # The unpriced call is logged and flagged, never priced as zero.
    unpriced = query(
        target,
        "select cost_source, cost_usd, model_tier, outcome, outcome_source, is_priced"
        " from agents.agent_request_log where request_id = 'edge_3'",
    )
    assert unpriced == [("unpriced", None, "unknown", "success", "status", False)]

    # Percentiles per agent x hour agree with numpy's default (linear).
    latencies: dict[tuple[str, datetime], list[float]] = defaultdict(list)
    counts: dict[tuple[str, datetime], int] = defaultdict(int)
    for c in calls:
        counts[(c.agent_id, c.hour)] += 1
        if c.latency_ms is not None:
            latencies[(c.agent_id, c.hour)].append(c.latency_ms)
    slo = query(
        target,
        "select agent_id, call_hour_at, call_count, p50_latency_ms, p95_latency_ms, p99_latency_ms"
        " from agents.agent_latency_slo",
    )
    assert len(slo) == len(counts)
    for agent_id, hour_at, call_count, p50, p95, p99 in slo:
        key = (agent_id, hour_at.astimezone(UTC))
        assert call_count == counts[key]
        want = np.percentile(latencies[key], [50, 95, 99])
        assert all(
            close(g, float(w), rel=1e-9) for g, w in zip((p50, p95, p99), want, strict=True)
        ), key

    # Confidence: idle days decay 10% of the gap to the global score.
    scores = query(
        target,
        "select score_date, observation_count, agent_confidence_score, global_confidence_score"
        f" from agents.agent_confidence_scores where agent_id = '{LATE_AGENT}'"
        " and model = 'gpt-4o-mini' order by score_date",
    )
    assert scores[0][0] == first_late and scores[-1][0] == last_day
    assert close(scores[0][2], (10 * scores[0][3] + 2) / (10 + 2))  # 2 calls, 2 successes
    for (_, _, previous, _), (day, n, score, global_score) in itertools.pairwise(scores):
        if n == 0:
            assert close(score, global_score + 0.9 * (previous - global_score)), day
    routes = query(
        target,
        "select model, route_role, confidence_gate from agents.agent_routing_rules"
        f" where agent_id = '{LATE_AGENT}' order by route_rank",
    )
    assert routes and all(gate == 0.70 for _, _, gate in routes)  # the default policy
    assert routes[0][1] == "primary"

    # The salted export of the agent id.
    run_dbt(
        ["run", "--select", "agent_request_log"],
        {**env, "DBT_ENV_SECRET_TRELLIS_EXPORT_SALT": "pepper"},
        target,
        tmp_path / "dbt",
    )
    hashed = query(
        target, "select agent_id from agents.agent_request_log where request_id = 'edge_1'"
    )
    assert hashed == [(hashlib.md5(f"pepper{LATE_AGENT}".encode()).hexdigest(),)]
