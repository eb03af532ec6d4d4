"""The ingest screen (trellis.services.screening) never clears a line the validation SQL rejects.

The SQL is the reference: it names every reason. The screen only decides
which lines skip it, so for every line it clears, the SQL must accept the
line too and read the same id, parent, tenant and timestamp from it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from tests.test_ingest import FEEDBACK_BREACHES, REQUEST_BREACHES, TRICKY_TEXT, with_every_breach
from tests.test_ingest_helpers import feedback, request, write_jsonl
from trellis.services import line_chunks
from trellis.services.contract import validation_sql
from trellis.services.generate import generate
from trellis.services.screening import Screen

_COLUMNS = ("source_line", "record_id", "parent_id", "tenant_id", "created_at")

#: Valid lines the screen may or may not clear, and invalid ones that look valid to a
#: lenient reader: each must be judged alike by both (cleared only if the SQL accepts).
EDGE_REQUESTS: list[str | dict[str, Any]] = [
    request("e-lower", created_at="2026-03-01t12:00:00.5z"),
    request("e-space", created_at="2026-03-01 12:00:00+05:30"),
    request("e-compact-offset", created_at="2026-03-01T12:00:00+0530"),
    request("e-nanos", created_at="2026-03-01T12:00:00.123456789Z"),
    request("e-round", created_at="2026-03-01T12:00:00.9999999Z"),
    request("e-leap", created_at="2026-12-31T23:59:60Z"),
    request("e-hour24", created_at="2026-03-01T24:00:00Z"),
    request("e-feb30", created_at="2026-02-30T10:00:00Z"),
    request("e-year1", created_at="0001-01-01T00:30:00+01:00"),
    request("e-naive-end", completed_at="2026-03-01T12:00:01"),
    request("e-null-tenant", tenant_id=None),
    request("e-null-opt", agent_id=None, status=None, response=None, latency_ms=None),
    request("e-int-as-float", latency_ms=1.0, cost_usd=0),
    request("e-neg-zero", latency_ms=-0.0),
    request("e-big-int", latency_ms=10**30),
    request("e-exp4", metadata={"x": 1e300}),
    request("e-content-null", request={"messages": [{"role": "assistant", "content": None}]}),
    request("e-content-none", request={"messages": [{"role": "assistant"}]}),
    request("e-content-parts", request={"messages": [{"role": "user", "content": [1, "a", {}]}]}),
    request("e-details-str", response={"usage": {"prompt_tokens_details": "n/a"}}),
    request("e-usage-null", response={"usage": None}),
    request("e-bool-tokens", response={"usage": {"prompt_tokens": True}}),
    request("e-empty-parent", parent_request_id=""),
    request("e-unicode", model="gpt-4o \u2603", tenant_id="t\u00e9nant"),
    request("e-tricky", request={"messages": [TRICKY_TEXT]}),
    '{"request_id": "e-dup-key", "request_id": "e-dup-key-2", "created_at": '
    '"2026-03-01T12:00:00Z", "model": "m", "request": {"messages": [{"role": "user"}]}}',
    '{"request_id": "e-surrogate", "created_at": "2026-03-01T12:00:00Z", "model": "\\ud800", '
    '"request": {"messages": [{"role": "user"}]}}',
    '{"request_id": "e-exp-str", "created_at": "2026-03-01T12:00:00Z", "model": "1e12345,", '
    '"request": {"messages": [{"role": "user", "content": "e-99999]"}]}}',
    '{"request_id": "e-exp5", "created_at": "2026-03-01T12:00:00Z", "model": "m", '
    '"request": {"messages": [{"role": "user"}], "x": [1E-12345 ]}}',
    '{"request_id": "e-null-then-value", "tenant_id": null, "tenant_id": "acme", '
    '"created_at": "2026-03-01T12:00:00Z", "model": "m", '
    '"request": {"messages": [{"role": "user"}]}}',
    '{"request_id": "e-same-twice", "request_id": "e-same-twice", "created_at": '
    '"2026-03-01T12:00:00Z", "model": "m", "request": {"messages": [{"role": "user"}]}}',
    '{"request_id": "e-deep", "created_at": "2026-03-01T12:00:00Z", "model": "m", '
    '"request": {"messages": [{"role": "user"}]}, "metadata": {"x": '
    + "[" * 1200
    + "]" * 1200
    + "}}",
    request(
        "e-error-code", request={"messages": [{"role": "user", "content": "E10001, 2e-99999]"}]}
    ),
    '  {"request_id": "e-spaces", "created_at": "2026-03-01T12:00:00Z", "model": "m", '
    '"request": {"messages": [{"role": "user"}]}}  ',
]
EDGE_FEEDBACK: list[str | dict[str, Any]] = [
    feedback("e-rating-float", rating=1.0),
    feedback("e-rating-neg", rating=-1),
    feedback("e-rating-half", rating=0.5),
    feedback("e-quality-max", completion_quality=10),
    feedback("e-quality-int", completion_quality=0),
    feedback("e-no-source", source=None),
]


def _sql_rows(kind: str, chunk: pa.Table) -> dict[int, tuple[Any, ...]]:
    """line -> (reason, record_id, parent_id, tenant_id, created_at) by the validation SQL."""
    conn = duckdb.connect()
    conn.execute("set timezone = 'UTC'")
    conn.register("chunk", chunk)
    rows = conn.execute(
        "select source_line, reason, record_id, parent_id, tenant_id, epoch_us(created_at) "
        f"from ({validation_sql(kind)})"  # type: ignore[arg-type]
    ).fetchall()
    conn.close()
    return {row[0]: row[1:] for row in rows}


def _judged(kind: str, path: Path) -> tuple[int, int, list[int]]:
    """(lines, cleared, lines the SQL rejects), asserting each cleared line agrees with the SQL."""
    screen = Screen(kind)  # type: ignore[arg-type]
    lines = cleared = 0
    rejected: list[int] = []
    for chunk in line_chunks.iter_file_chunks(path):
        by_sql = _sql_rows(kind, chunk)
        screened = screen.screen(chunk)
        assert sorted(screened.cleared.to_pylist() + screened.rest.to_pylist()) == list(
            range(chunk.num_rows)
        )
        # timestamps as microseconds: year 0 is out of Python's range
        micros = screened.columns.column("created_at").cast(pa.int64())
        for row in screened.columns.set_column(4, "created_at", micros).to_pylist():
            reason, *columns = by_sql[row["source_line"]]
            assert reason is None, (row, reason)
            assert tuple(row[name] for name in _COLUMNS[1:]) == tuple(columns), row
        lines += chunk.num_rows
        cleared += screened.columns.num_rows
        rejected += [line for line, values in by_sql.items() if values[0] is not None]
    return lines, cleared, rejected


@with_every_breach
def test_the_screen_clears_no_contract_breach(
    tmp_path: Path, kind: str, valid: dict[str, Any], breaches: list[tuple[Any, str, str]]
) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [valid, *(line for line, _, _ in breaches)])

    lines, cleared, rejected = _judged(kind, path)

    # at most the valid record (its text holds NaN, \\u0000 and 1e9999999
    # in strings: the screen may leave it to the SQL), and no breach
    assert cleared <= 1
    assert len(rejected) == len(breaches) == lines - 1


@pytest.mark.parametrize(
    ("kind", "lines"), [("requests", EDGE_REQUESTS), ("feedback", EDGE_FEEDBACK)]
)
def test_on_edge_cases_the_screen_clears_only_what_the_sql_accepts(
    tmp_path: Path, kind: str, lines: list[str | dict[str, Any]]
) -> None:
    path = write_jsonl(tmp_path / "edge.jsonl", lines)

    total, cleared, rejected = _judged(kind, path)

    assert total == len(lines)
    # the plain valid ones are cleared: the screen is not a no-op
    assert cleared >= total - len(rejected) - 8


def test_the_screen_clears_nearly_all_valid_generated_traffic(tmp_path: Path) -> None:
    truth = generate(tmp_path / "demo", 3000, seed=7)
    del truth
    for kind in ("requests", "feedback"):
        for path in sorted((tmp_path / "demo" / kind).iterdir()):
            lines, cleared, rejected = _judged(kind, path)
            valid = lines - len(rejected)
            assert cleared >= valid * 0.999 - 1, (path.name, lines, cleared, len(rejected))


def test_breach_tables_are_shared_with_the_ingest_tests() -> None:
    # the screen is tested on the very breaches the quarantine test checks
    assert REQUEST_BREACHES and FEEDBACK_BREACHES
    assert json.loads(json.dumps(TRICKY_TEXT)) == TRICKY_TEXT


def test_exponent_and_nul_look_alikes_inside_strings_are_cleared(tmp_path: Path) -> None:
    """The cheap raw-text patterns hit them; the SQL's exact test, run on the hits, clears them."""
    looks_alike = request(
        "r-1",
        request={"messages": [{"role": "user", "content": "error E10001, 2e-99999] and \\u0000"}]},
    )
    real = '{"request_id": "r-2", "created_at": "2026-03-01T12:00:00Z", "model": "m", ' + (
        '"request": {"messages": [{"role": "user"}]}, "metadata": {"x": 2e-99999}}'
    )
    (chunk,) = line_chunks.iter_file_chunks(write_jsonl(tmp_path / "in.jsonl", [looks_alike, real]))

    screened = Screen("requests").screen(chunk)

    assert screened.cleared.to_pylist() == [0]
    assert screened.rest.to_pylist() == [1]
