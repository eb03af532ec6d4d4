"""Hostile input, as an attacker or a careless producer writes it, on both targets.

The property: every line is loaded, a duplicate, or quarantined, exactly
once, and whatever ingest accepted never breaks `dbt build`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.postgres import Server
from tests.support.warehouse import Warehouse, warehouse
from tests.test_ingest_helpers import feedback, request

#: Values a careless producer puts anywhere.
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 1.5, -0.0, 1e-400, 1e308, 2**63, 2**64 - 1, 10**30]),
    st.text(max_size=12),
    st.sampled_from(
        [
            "",
            "2026-03-01T12:00:00Z",
            "2026-03-01T24:00:00Z",
            "2016-12-31T23:59:60Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59-14:00",
            "2026-03-01T12:00:00+24:00",
            "2026-03-01T12:00:00",
            "2026-03-01t12:00:00z",
            "2026-02-30T12:00:00Z",
            "2026-03-01T12:00:00.123456789+05:30",
            "x" * 300,
            "a\u0000b",
            "success",
            "sideways",
        ]
    ),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)

REQUEST_PATHS = [
    ("request_id",),
    ("created_at",),
    ("completed_at",),
    ("tenant_id",),
    ("agent_id",),
    ("session_id",),
    ("parent_request_id",),
    ("model",),
    ("status",),
    ("latency_ms",),
    ("ttft_ms",),
    ("cost_usd",),
    ("request", "temperature"),
    ("request", "top_p"),
    ("request", "seed"),
    ("request", "n"),
    ("request", "max_tokens"),
    ("request", "stop"),
    ("request", "messages"),
    ("response", "usage", "prompt_tokens"),
    ("response", "usage", "completion_tokens"),
    ("response", "usage", "cache_read_input_tokens"),
    ("response", "usage", "prompt_tokens_details", "cached_tokens"),
    ("error", "http_status"),
    ("fallback", "used"),
    ("prompt", "redaction_applied"),
    ("branch", "kind"),
    ("metadata",),
]
FEEDBACK_PATHS = [
    ("feedback_id",),
    ("request_id",),
    ("created_at",),
    ("outcome",),
    ("source",),
    ("tenant_id",),
    ("completion_quality",),
    ("rating",),
]


def _set(record: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = record
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


@st.composite
def hostile_line(draw: st.DrawFn, kind: str) -> str:
    """A valid record of `kind` with a few fields made hostile, or the line itself mangled."""
    name = f"{kind[0]}-{draw(st.integers(0, 40))}"  # repeats make duplicates and conflicts
    record = request(name) if kind == "requests" else feedback(name, request_id=f"r-{name}")
    paths = REQUEST_PATHS if kind == "requests" else FEEDBACK_PATHS
    for path in draw(st.lists(st.sampled_from(paths), max_size=3)):
        _set(record, path, draw(ANY_VALUE))
    line = json.dumps(record, ensure_ascii=draw(st.booleans()))
    mangle = draw(st.sampled_from(["none"] * 6 + ["repeat_key", "truncate", "bom", "nul"]))
    if mangle == "repeat_key":
        key = "request_id" if kind == "requests" else "feedback_id"
        line = line.replace("{", f'{{"{key}": "other", ', 1)
    elif mangle == "truncate":
        line = line[: draw(st.integers(1, max(1, len(line) - 1)))]
    elif mangle == "bom":
        line = "\ufeff" + line
    elif mangle == "nul":
        line = line.replace(":", ":\u0000", 1)
    return line


@pytest.fixture(scope="module")
def warehouses(
    pg_server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Warehouse]]:
    work = tmp_path_factory.mktemp("hostile")
    with (
        warehouse("duckdb", work / "duckdb", None) as on_duckdb,
        warehouse("postgres", work / "postgres", pg_server) as on_postgres,
    ):
        yield [on_duckdb, on_postgres]


def _ingest_everywhere(
    warehouses: list[Warehouse], kind: str, lines: list[str], folder: Path
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}-{uuid.uuid4().hex}.jsonl"
    path.write_bytes(b"\n".join(line.encode("utf-8", "surrogatepass") for line in lines))
    expected = sum(1 for line in lines if line.strip())
    for place in warehouses:
        report = place.ingest(kind, [path])
        counted = report.loaded + report.duplicates + report.total_quarantined
        assert counted == expected, (place.target, report)
        table = "requests" if kind == "requests" else "feedback"
        stored = place.query(f"select count(*) from raw.{table} where source_file = ?", [str(path)])
        quarantined = place.query(
            "select count(*) from raw.quarantine where source_file = ?", [str(path)]
        )
        assert stored[0][0] == report.loaded, place.target
        assert quarantined[0][0] == report.total_quarantined - report.already_quarantined


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    requests=st.lists(hostile_line("requests"), min_size=1, max_size=12),
    feedbacks=st.lists(hostile_line("feedback"), min_size=1, max_size=6),
)
def test_every_hostile_line_is_loaded_or_quarantined_exactly_once_on_both_targets(
    warehouses: list[Warehouse], tmp_path: Path, requests: list[str], feedbacks: list[str]
) -> None:
    _ingest_everywhere(warehouses, "requests", requests, tmp_path / "in")
    _ingest_everywhere(warehouses, "feedback", feedbacks, tmp_path / "in")


def test_dbt_build_passes_on_what_ingest_accepted(warehouses: list[Warehouse]) -> None:
    """Runs after the property test has loaded its hostile lines (and on its own too)."""
    for place in warehouses:
        rows = place.query("select count(*) from raw.requests")[0][0]
        output = place.dbt("build")
        assert "ERROR=0" in output.replace(" ", ""), (place.target, rows, output[-3000:])
