"""The ingest screen (trellis.services.screening) never clears a line the validation SQL rejects.

The SQL is the reference: it names every reason. The screen only decides
which lines skip it, so for every line it clears, the SQL must accept the
line too and read the same id, parent, tenant and timestamp from it. Every
test runs on both decoders of the screen: msgspec and the C pass
(trellis/_screen.c), which CI builds.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from tests.test_ingest import FEEDBACK_BREACHES, REQUEST_BREACHES, TRICKY_TEXT, with_every_breach
from tests.test_ingest_helpers import feedback, request, write_jsonl
from trellis.services import line_chunks, screening
from trellis.services.contract import validation_sql
from trellis.services.screening import NATIVE, Screen
from trellis_demo.generate import generate

_COLUMNS = ("source_line", "record_id", "parent_id", "tenant_id", "created_at")


@pytest.fixture(autouse=True, params=["msgspec", "c"])
def native(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Each test once per decoder of the screen (Screen(kind) takes screening.NATIVE)."""
    use_c: bool = request.param == "c"
    monkeypatch.setattr(screening, "NATIVE", use_c)
    return use_c


def test_the_c_screen_is_built() -> None:
    # `make install` builds it (a C compiler is at hand on every machine we run);
    # without it ingest falls back to msgspec, some 3 times slower
    assert NATIVE, "trellis._screen is not built: is a C compiler (gcc) installed?"


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
    # what the C pass refuses instead of decoding exactly, and JSON it must refuse
    *(
        f'{{"request_id": "e-{name}", "created_at": "2026-03-01T12:00:00Z", "model": "m", '
        f'"request": {{"messages": [{{"role": "user"}}]}}{extra}}}'
        for name, extra in [
            ("esc-key", ', "tenant\\u005fid": "t"'),
            ("esc-enum", ', "status": "succ\\u0065ss"'),
            ("esc-tenant", ', "tenant_id": "t\\u00e9"'),
            ("esc-parent", ', "parent_request_id": "p\\"q"'),
            ("pair", ', "metadata": {"x": "\\ud83d\\ude00"}'),
            ("low-alone", ', "metadata": {"x": "\\udc00"}'),
            ("high-then-x", ', "metadata": {"x": "\\ud83dx"}'),
            ("high-then-high", ', "metadata": {"x": "\\ud83d\\ud83d"}'),
            ("bad-escape", ', "metadata": {"x": "\\x41"}'),
            ("short-u", ', "metadata": {"x": "\\u12"}'),
            ("raw-tab", ', "metadata": {"x": "a\tb"}'),
            ("nul-key", ', "metadata": {"\\u0000": 1}'),
            ("leading-zero", ', "metadata": {"x": 01}'),
            ("dot-end", ', "metadata": {"x": 1.}'),
            ("dot-start", ', "metadata": {"x": .5}'),
            ("plus", ', "metadata": {"x": +1}'),
            ("minus-alone", ', "metadata": {"x": -}'),
            ("exp-empty", ', "metadata": {"x": 1e}'),
            ("exp4", ', "metadata": {"x": 1E+0004}'),
            ("exp5-zeros", ', "metadata": {"x": 1e00005}'),
            ("neg-zero", ', "latency_ms": -0'),
            ("neg-tiny", ', "latency_ms": -1e-320'),
            ("huge-float", ', "latency_ms": 1e308'),
            ("overflow", ', "latency_ms": 1e309'),
            ("long-number", ', "latency_ms": 1' + "0" * 70),
            ("neg-latency", ', "latency_ms": -0.5'),
            ("tokens-str", ', "response": {"usage": {"prompt_tokens": "7"}}'),
            ("tru", ', "metadata": {"x": tru}'),
            ("nul", ', "metadata": {"x": nul}'),
            ("bool-model", ', "stream": true, "metadata": {"x": false, "y": null}'),
            ("dup-model-bad", ', "model": 5'),
            ("dup-messages-empty", ', "request": {"messages": []}'),
            ("role-case", ', "request": {"messages": [{"role": "User"}]}'),
            ("role-dup", ', "request": {"messages": [{"role": "user", "role": "boss"}]}'),
            ("content-num", ', "request": {"messages": [{"role": "user", "content": 5}]}'),
            ("empty-key", ', "": 1'),
            ("deep-300", ', "metadata": {"x": ' + "[" * 300 + "]" * 300 + "}"),
            ("deep-200", ', "metadata": {"x": ' + "[" * 200 + "]" * 200 + "}"),
            ("ws", ',\t"metadata"\r: { "x" :\t[ 1 , 2 ] } '),
            ("garbage", "} x"),
            ("two-objects", '}{"a": 1'),
            ("unclosed", ', "metadata": {"x": [1, 2}'),
            ("colon-missing", ', "metadata": {"x" 1}'),
            ("comma-double", ', , "metadata": {}'),
            ("tenant-obj", ', "tenant_id": {"a": 1}'),
            ("tenant-empty", ', "tenant_id": ""'),
            ("parent-num", ', "parent_request_id": 5'),
            ("completed-null", ', "completed_at": null'),
            ("completed-num", ', "completed_at": 5'),
        ]
    ),
]
EDGE_FEEDBACK: list[str | dict[str, Any]] = [
    feedback("e-rating-float", rating=1.0),
    feedback("e-rating-neg", rating=-1),
    feedback("e-rating-half", rating=0.5),
    feedback("e-quality-max", completion_quality=10),
    feedback("e-quality-int", completion_quality=0),
    feedback("e-no-source", source=None),
    feedback("e-rating-exp", rating=1e0),
    feedback("e-rating-close", completion_quality=10.000000000000001),
    '{"feedback_id": "e-rating-text", "request_id": "r", "created_at": "2026-03-01T12:05:00Z", '
    '"outcome": "success", "rating": 1.0000000000000000001}',
    '{"feedback_id": "e-rating-long", "request_id": "r", "created_at": "2026-03-01T12:05:00Z", '
    '"outcome": "success", "rating": 1' + "0" * 80 + "}",
    '{"feedback_id": "e-rating-bool", "request_id": "r", "created_at": "2026-03-01T12:05:00Z", '
    '"outcome": "success", "rating": true}',
    '{"feedback_id": "e-rating-twice", "request_id": "r", "created_at": "2026-03-01T12:05:00Z", '
    '"outcome": "success", "rating": 1, "rating": -1}',
    '{"feedback_id": "e-quality-neg", "request_id": "r", "created_at": "2026-03-01T12:05:00Z", '
    '"outcome": "success", "completion_quality": -0.0}',
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
    assert cleared >= total - len(rejected) - 20


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


def test_on_mangled_generated_lines_the_screen_clears_only_what_the_sql_accepts(
    tmp_path: Path,
) -> None:
    """Generated lines with a few bytes deleted, repeated or replaced by JSON's own
    characters: mostly broken JSON, some valid JSON that breaks the contract, a few
    still valid. The screen may clear only what the SQL accepts, with the same values."""
    generate(tmp_path / "demo", 400, seed=11)
    source = sorted((tmp_path / "demo" / "requests").iterdir())[0].read_text("utf-8")
    shuffle = random.Random(5)
    alphabet = '{}[]",:\\0123456789eE+-.tfnul \t'
    mangled = []
    for line in source.splitlines():
        for _ in range(6):
            text = line
            for _ in range(shuffle.randint(1, 3)):
                at = shuffle.randrange(len(text))
                edit = shuffle.choice(["delete", "repeat", "replace"])
                new = shuffle.choice(alphabet)
                if edit == "delete":
                    text = text[:at] + text[at + 1 :]
                elif edit == "repeat":
                    text = text[: at + 1] + text[at:]
                else:
                    text = text[:at] + new + text[at + 1 :]
            mangled.append(text)
    path = tmp_path / "mangled.jsonl"
    path.write_text("\n".join(mangled) + "\n", encoding="utf-8")

    lines, cleared, rejected = _judged("requests", path)

    assert lines == len(mangled)
    # many mangled lines break the contract (an edit inside a string often does not),
    # and nearly all the others are cleared
    assert len(rejected) > lines // 3
    assert cleared >= (lines - len(rejected)) * 0.9


def test_a_line_of_invalid_utf8_is_never_cleared(tmp_path: Path) -> None:
    """Read with U+FFFD in place of the bad byte it would be a valid record: the screen
    leaves it to the SQL, which quarantines it."""
    good = json.dumps(request("r-1")).encode()
    bad = json.dumps(request("r-2", model="gpt-\u00ff")).encode().replace(b"\\u00ff", b"\xff")
    path = tmp_path / "in.jsonl"
    path.write_bytes(good + b"\n" + bad + b"\n" + good.replace(b"r-1", b"r-3") + b"\n")
    (chunk,) = line_chunks.iter_file_chunks(path)

    screened = Screen("requests").screen(chunk)

    assert chunk.column("is_utf8").to_pylist() == [True, False, True]
    assert screened.cleared.to_pylist() == [0, 2]
    assert screened.rest.to_pylist() == [1]


def test_the_c_pass_refuses_offsets_outside_its_buffer() -> None:
    from trellis import _screen

    schema = Screen("requests", native=True)._schema
    data = b'{"a": 1}'
    offsets = pa.array([0, 8, 80], pa.int64()).buffers()[1]
    with pytest.raises(ValueError, match="out of the data buffer"):
        _screen.screen_lines(schema, data, offsets, 0, 2, None)
    with pytest.raises(ValueError, match="shorter than the lines"):
        _screen.screen_lines(schema, data, offsets, 1, 2, None)
    with pytest.raises(ValueError, match="shorter than the lines"):
        _screen.screen_lines(schema, data, offsets, 0, 1, b"")
    # sums that overflow 64 bits are refused too (the check once wrapped round)
    for first, count in [(2**61 - 2**40, 2**40 - 1), (2**61 - 1, 1), (2**62, 2**62)]:
        with pytest.raises(ValueError, match="shorter than the lines"):
            _screen.screen_lines(schema, data, offsets, first, count, None)


def test_a_struct_type_without_a_c_twin_is_refused_when_the_schema_is_built() -> None:
    # a change of the screen's structs must come with its C twin, not be read loosely
    import msgspec.inspect

    from trellis.services.screening import _native_node

    for loose in [int, bytes, dict[str, int], tuple[int, str]]:
        with pytest.raises(ValueError, match="no twin"):
            _native_node(msgspec.inspect.type_info(loose), {})
    longer = msgspec.inspect.StrType(min_length=2, max_length=None, pattern=None)
    with pytest.raises(ValueError, match="no twin"):
        _native_node(longer, {})
