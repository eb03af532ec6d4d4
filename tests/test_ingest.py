"""Ingest (contract section 4) against a real DuckDB file and a real PostgreSQL database."""

from __future__ import annotations

import gzip
import json
import random
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.test_ingest_helpers import (
    count,
    feedback,
    quarantine_by_line,
    request,
    stored_record,
    to_line,
    write_jsonl,
)
from trellis.errors import TrellisError
from trellis.services import ingest as ingest_module
from trellis.services import line_chunks, screening
from trellis.services import validation as validation_module
from trellis.services.contract import REASONS
from trellis.services.ingest import (
    IngestReport,
    ingest_files,
    ingest_records,
    quarantine_id,
)
from trellis.services.screening import is_content_hash
from trellis.storage import Store, open_store
from trellis.storage import base as storage_base

Target = tuple[str, dict[str, str]]


def ingest_text_hashed(store: Store, kind: str, paths: list[Path]) -> IngestReport:
    """Ingest through the msgspec screen: the rows are stored with their text's hash, as
    rows stored before content fingerprints, or where trellis._screen is not built, are."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(screening, "NATIVE", False)
        return ingest_files(store, kind, paths)


def _without(record: dict[str, Any], *path: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(record))
    node = copy
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return copy


def _usage(**usage: Any) -> dict[str, Any]:
    base = request()["response"]
    return {**base, "usage": {**base["usage"], **usage}}


def _messages(*messages: Any) -> dict[str, Any]:
    return {"messages": list(messages)}


#: Valid text that looks like the non-JSON tokens the validator hunts for.
TRICKY_TEXT = {
    "role": "user",
    "content": "NaN, -Infinity, [1,] {a:1,} 1e9999999 and \\u0000 are fine inside a string",
}

# (line content, reason, a word the detail must contain); the ids keep lines unique.
REQUEST_BREACHES: list[tuple[str | dict[str, Any], str, str]] = [
    ("this is not json", "invalid_json", "JSON"),
    ('{"request_id": "r-comma", "model": "m",}', "invalid_json", "trailing comma"),
    ('{"request_id": "r-nan", "latency_ms": NaN}', "invalid_json", "NaN"),
    ('{"request_id": "r-inf", "latency_ms": -inf}', "invalid_json", "Infinity"),
    ('{"request_id": "r-exp", "latency_ms": 1e999999}', "invalid_json", "exponent"),
    # the same tokens in other spellings, spacing and places (the cheap
    # pre-checks must let every one through to the exact check)
    ('{"request_id": "r-nan2", "metadata": {"x":\tnan}}', "invalid_json", "NaN"),
    ('{"request_id": "r-inf2", "xs": [1,  Infinity]}', "invalid_json", "Infinity"),
    ('{"request_id": "r-inf3", "xs": [ -INF]}', "invalid_json", "Infinity"),
    ('{"request_id": "r-inf4", "x": {"y": [[-iNfInItY]]}}', "invalid_json", "Infinity"),
    ('{"request_id": "r-comma2", "xs": [1, 2 ,\t]}', "invalid_json", "trailing comma"),
    ('{"request_id": "r-comma3", "x": {"y": 1 , }}', "invalid_json", "trailing comma"),
    ('{"request_id": "r-exp2", "metadata": {"x": 1E+10000}}', "invalid_json", "exponent"),
    ('{"request_id": "r-exp3", "metadata": {"x": 2.5e-16384}}', "invalid_json", "exponent"),
    ('{"request_id": "r-nul", "model": "a\\u0000b"}', "invalid_json", "u0000"),
    ("[1, 2, 3]", "not_an_object", "list"),
    ('"just a string"', "not_an_object", "string"),
    (_without(request("r-a"), "request_id"), "missing_field", "request_id"),
    (_without(request("r-b"), "created_at"), "missing_field", "created_at"),
    (_without(request("r-c"), "model"), "missing_field", "model"),
    (_without(request("r-d"), "request"), "missing_field", "request"),
    (_without(request("r-e"), "request", "messages"), "missing_field", "request.messages"),
    (request("r-f", request=_messages()), "missing_field", "empty"),
    (request(""), "missing_field", "request_id"),
    (request(None), "missing_field", "request_id"),
    (request(42), "wrong_type", "request_id"),
    (request("r-h", request={"messages": "hello"}), "wrong_type", "request.messages"),
    (request("r-i", request="hello"), "wrong_type", "request"),
    (request("r-j", request=_messages({"content": "no role"})), "wrong_type", "role"),
    (request("r-k", request=_messages({"role": "user", "content": 5})), "wrong_type", "content"),
    (request("r-l", request=_messages("hello")), "wrong_type", "messages[0]"),
    (request("r-m", tenant_id=7), "wrong_type", "tenant_id"),
    (request("r-n", response=_usage(prompt_tokens="12")), "wrong_type", "prompt_tokens"),
    (request("r-o", latency_ms="fast"), "wrong_type", "latency_ms"),
    (request("r-p", created_at="2026-03-01T12:00:00"), "invalid_timestamp", "created_at"),
    (request("r-q", created_at="yesterday"), "invalid_timestamp", "created_at"),
    (request("r-r", created_at="2026-13-01T00:00:00Z"), "invalid_timestamp", "created_at"),
    (request("r-s", completed_at="2026-03-01 noon"), "invalid_timestamp", "completed_at"),
    (request("r-t", status="ok"), "invalid_enum", "status"),
    (
        request("r-u", request=_messages({"role": "wizard", "content": "hi"})),
        "invalid_enum",
        "role",
    ),
    (request("r-v", response=_usage(prompt_tokens=-1)), "negative_tokens", "prompt_tokens"),
    (
        request("r-w", response=_usage(prompt_tokens_details={"cached_tokens": -5})),
        "negative_tokens",
        "cached_tokens",
    ),
    (request("r-x", latency_ms=-1), "out_of_range", "latency_ms"),
    (request("r-y", ttft_ms=-0.5), "out_of_range", "ttft_ms"),
    (request("r-z", cost_usd=-0.01), "out_of_range", "cost_usd"),
]

FEEDBACK_BREACHES: list[tuple[str | dict[str, Any], str, str]] = [
    ("{oops", "invalid_json", "JSON"),
    ("42", "not_an_object", "number"),
    (_without(feedback("f-a"), "feedback_id"), "missing_field", "feedback_id"),
    (_without(feedback("f-b"), "request_id"), "missing_field", "request_id"),
    (_without(feedback("f-c"), "created_at"), "missing_field", "created_at"),
    (_without(feedback("f-d"), "outcome"), "missing_field", "outcome"),
    (feedback("f-e", rating="up"), "wrong_type", "rating"),
    (feedback("f-f", tenant_id=["a"]), "wrong_type", "tenant_id"),
    (feedback("f-g", created_at="2026-03-01"), "invalid_timestamp", "created_at"),
    (feedback("f-h", outcome="great"), "invalid_enum", "outcome"),
    (feedback("f-i", source="robot"), "invalid_enum", "source"),
    (feedback("f-j", completion_quality=11), "out_of_range", "completion_quality"),
    (feedback("f-k", completion_quality=-0.1), "out_of_range", "completion_quality"),
    (feedback("f-l", rating=0), "out_of_range", "rating"),
]

#: Each record kind: a valid record that looks suspicious, then every breach.
with_every_breach = pytest.mark.parametrize(
    ("kind", "valid", "breaches"),
    [
        ("requests", request("ok-1", request=_messages(TRICKY_TEXT)), REQUEST_BREACHES),
        ("feedback", feedback("ok-1"), FEEDBACK_BREACHES),
    ],
)


@with_every_breach
@pytest.mark.parametrize("sql", ["prepared", "in place"])
def test_every_contract_breach_is_quarantined_with_its_reason_file_line_and_text(
    target_env: Target,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    valid: dict[str, Any],
    breaches: list[tuple[str | dict[str, Any], str, str]],
    sql: str,
) -> None:
    """The validation SQL classifies the screen's left lines prepared once over a table
    of them, or planned anew over the chunk in place (left lines of more than
    PREPARED_MAX_BYTES): the same reasons either way."""
    if sql == "in place":
        monkeypatch.setattr(validation_module, "PREPARED_MAX_BYTES", -1)
    path = write_jsonl(tmp_path / "in.jsonl", [valid, *(line for line, _, _ in breaches)])
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, kind, [path])  # type: ignore[arg-type]
        quarantined = quarantine_by_line(store)
        texts = dict(store.query("select source_line, raw_text from raw.quarantine"))
        files = {row[0] for row in store.query("select source_file from raw.quarantine")}
        kinds = {row[0] for row in store.query("select record_kind from raw.quarantine")}

    assert report.loaded == 1
    expected: dict[str, int] = {}
    for line, (content, reason, word) in enumerate(breaches, start=2):
        assert quarantined[line][0] == reason, (line, content, quarantined[line])
        assert word.lower() in quarantined[line][1].lower(), quarantined[line]
        assert texts[line] == to_line(content)
        expected[reason] = expected.get(reason, 0) + 1
    assert report.quarantined == expected
    assert report.total_quarantined == len(breaches)
    assert files == {str(path)}
    assert kinds == {kind}


def test_reason_codes_are_stable() -> None:
    assert REASONS == (
        "invalid_json",
        "not_an_object",
        "missing_field",
        "wrong_type",
        "invalid_timestamp",
        "invalid_enum",
        "negative_tokens",
        "out_of_range",
        "conflict",
    )


def test_ingesting_the_same_file_twice_changes_nothing_and_counts_duplicates(
    target_env: Target, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "in.jsonl",
        [request("a"), request("b"), "not json", request("c", status="bogus")],
    )
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        first = ingest_files(store, "requests", [path])
        snapshot = store.query(
            "select request_id, record_hash, ingested_at from raw.requests order by 1"
        )
        second = ingest_files(store, "requests", [path])
        assert (
            store.query("select request_id, record_hash, ingested_at from raw.requests order by 1")
            == snapshot
        )
        assert count(store, "quarantine") == 2

    assert (first.loaded, first.duplicates, first.total_quarantined) == (2, 0, 2)
    assert first.already_quarantined == 0
    assert (second.loaded, second.duplicates, second.total_quarantined) == (0, 2, 2)
    assert second.already_quarantined == 2


def test_a_conflicting_record_is_quarantined_and_the_stored_row_is_untouched(
    target_env: Target, tmp_path: Path
) -> None:
    original = request("a", model="gpt-4o")
    changed = request("a", model="gpt-4o-mini")
    first = write_jsonl(tmp_path / "first.jsonl", [original])
    second = write_jsonl(tmp_path / "second.jsonl", [request("b"), changed])
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        ingest_files(store, "requests", [first])
        before = store.query("select record_hash, ingested_at, source_file from raw.requests")
        report = ingest_files(store, "requests", [second])
        after = store.query(
            "select record_hash, ingested_at, source_file from raw.requests where request_id = ?",
            ["a"],
        )
        assert stored_record(store, "requests", "request_id", "a") == original
        conflicts = store.query(
            "select source_file, source_line, record_id, raw_text from raw.quarantine "
            "where reason = 'conflict'"
        )

    assert after == before
    assert (report.loaded, report.duplicates, report.quarantined) == (1, 0, {"conflict": 1})
    assert conflicts == [(str(second), 2, "a", json.dumps(changed, ensure_ascii=False))]


@pytest.mark.parametrize("stored", ["fingerprinted", "text-hashed"])
def test_same_content_in_another_key_order_or_spacing_is_a_duplicate_not_a_conflict(
    target_env: Target, tmp_path: Path, stored: str
) -> None:
    """Told by the content fingerprints, or (the stored row has its text's hash) by
    comparing the stored record parsed."""
    record = request("a", latency_ms=840, request={"messages": [{"role": "user", "content": "é/"}]})
    reordered = (
        json.dumps(dict(reversed(list(record.items()))), indent=None, separators=(" , ", " : "))
        .replace('"\\u00e9/"', '"\\u00E9\\/"')
        .replace("840", "8.40e2")
    )
    changed = json.dumps(request("b", latency_ms=841)).replace("841", "8.41e2")
    first = write_jsonl(tmp_path / "first.jsonl", [record, request("b", latency_ms=840)])
    second = write_jsonl(tmp_path / "second.jsonl", [reordered, changed])
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        ingest = ingest_files if stored == "fingerprinted" else ingest_text_hashed
        ingest(store, "requests", [first])
        report = ingest_files(store, "requests", [second])

    assert "8.40e2" in reordered and "\\u00E9\\/" in reordered
    assert (report.loaded, report.duplicates, report.quarantined) == (0, 1, {"conflict": 1})


def test_within_one_file_the_first_occurrence_wins(target_env: Target, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "in.jsonl",
        [request("a", model="first"), request("a", model="first"), request("a", model="later")],
    )
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [path])
        assert stored_record(store, "requests", "request_id", "a")["model"] == "first"
        assert store.query("select source_line from raw.requests") == [(1,)]
        assert quarantine_by_line(store)[3][0] == "conflict"

    assert (report.loaded, report.duplicates, report.quarantined) == (1, 1, {"conflict": 1})


def test_the_first_occurrence_wins_when_the_sql_judged_it(
    target_env: Target, tmp_path: Path
) -> None:
    """Line 1 names its id twice (the screen leaves it to the SQL, which accepts it);
    line 2, the same id with other content, is cleared by the screen: line 1 still wins."""
    first = to_line(request("twice")).replace(
        '{"request_id": "twice"', '{"request_id": "twice", "request_id": "twice"', 1
    )
    path = write_jsonl(tmp_path / "in.jsonl", [first, request("twice", model="other")])
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [path])
        stored = stored_record(store, "requests", "request_id", "twice")
        quarantined = quarantine_by_line(store)

    assert (report.loaded, report.quarantined) == (1, {"conflict": 1})
    assert stored["model"] == "gpt-4o"
    assert quarantined[2][0] == "conflict"


@pytest.mark.parametrize("same_call", [True, False])
def test_true_and_1_are_different_content(
    target_env: Target, tmp_path: Path, same_call: bool
) -> None:
    """Content is compared with JSON types: `true` is not `1`, though Python says equal."""
    one = [request("t", metadata={"flag": True}), request("z", metadata={"n": 0})]
    other = [request("t", metadata={"flag": 1}), request("z", metadata={"n": False})]
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        if same_call:  # later occurrences in one chunk, judged in memory
            report = ingest_files(
                store, "requests", [write_jsonl(tmp_path / "a.jsonl", one + other)]
            )
        else:  # against the stored records
            ingest_files(store, "requests", [write_jsonl(tmp_path / "a.jsonl", one)])
            report = ingest_files(store, "requests", [write_jsonl(tmp_path / "b.jsonl", other)])

    assert report.quarantined == {"conflict": 2}
    assert report.duplicates == 0


def test_the_validator_stages_lines_anew_before_deleted_rows_pile_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DuckDB keeps the memory of deleted rows of a temporary table: the table the
    prepared statement reads is made anew past RESTAGE_BYTES, with the same results."""
    monkeypatch.setattr(validation_module, "RESTAGE_BYTES", 2_000_000)
    records = [request(f"r-{i}", metadata={"note": "x" * 4000}) for i in range(250)]
    records[7]["created_at"] = "yesterday"
    chunk = next(line_chunks.iter_record_chunks(records))
    validator = validation_module.Validator("requests")
    try:
        first = validator.checked("in.jsonl", chunk)
        for _ in range(20):
            assert validator.checked("in.jsonl", chunk).equals(first)
        memory = validator._conn.execute(
            "select sum(memory_usage_bytes) from duckdb_memory()"
        ).fetchall()[0][0]
    finally:
        validator.close()
    assert first.column("reason").to_pylist().count("invalid_timestamp") == 1
    assert memory < 10_000_000, memory


def test_records_load_in_any_order_without_reference_checks(
    target_env: Target, tmp_path: Path
) -> None:
    requests = write_jsonl(
        tmp_path / "requests.jsonl",
        [request("child", parent_request_id="parent"), request("parent")],
    )
    feedbacks = write_jsonl(
        tmp_path / "feedback.jsonl", [feedback("fb-early", request_id="not-yet-logged")]
    )
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        fb = ingest_files(store, "feedback", [feedbacks])
        req = ingest_files(store, "requests", [requests])
        assert store.query("select feedback_id, request_id from raw.feedback") == [
            ("fb-early", "not-yet-logged")
        ]

    assert (fb.loaded, req.loaded) == (1, 2)


def test_stored_columns_follow_the_record(target_env: Target, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "in.jsonl",
        [
            request("a", tenant_id="acme", created_at="2026-03-01T14:00:00+02:00"),
            _without(request("b"), "tenant_id"),
        ],
    )
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [path])
        rows = store.query(
            "select request_id, tenant_id, created_at, source_file, source_line, ingested_at, "
            "record_hash from raw.requests order by request_id"
        )

    assert report.loaded == 2
    (a, b) = rows
    assert a[1] == "acme" and b[1] == "default"
    assert a[2].isoformat().startswith("2026-03-01T12:00:00")
    assert a[2].utcoffset() is not None and a[2].utcoffset().total_seconds() == 0
    assert (a[3], a[4], b[4]) == (str(path), 1, 2)
    assert a[5] == b[5]  # one batch time per call
    assert is_content_hash(a[6]) and is_content_hash(b[6]) and a[6] != b[6]


def test_unicode_and_a_100_kb_message_round_trip_exactly(
    target_env: Target, tmp_path: Path
) -> None:
    big = 'é世界🎉 \u2028 tab\t quote" backslash\\ ' + "x" * 100_000
    record = request("uni-✓", request=_messages({"role": "user", "content": big}))
    raw = json.dumps(record, ensure_ascii=False)
    escaped = json.dumps(request("esc", model="caf\u00e9"), ensure_ascii=True)
    path = write_jsonl(tmp_path / "in.jsonl", [raw, escaped])
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [path])
        assert stored_record(store, "requests", "request_id", "uni-✓") == record
        assert stored_record(store, "requests", "request_id", "esc")["model"] == "café"
        if target_env[0] == "duckdb":  # DuckDB keeps the very text; jsonb keeps the value
            text = store.query(
                "select cast(record as varchar) from raw.requests where source_line = 1"
            )
            assert text == [(raw,)]

    assert report.loaded == 2


def test_numbers_both_targets_can_store_load_unchanged(target_env: Target, tmp_path: Path) -> None:
    """Exponents up to 4 digits are JSON that PostgreSQL's numeric holds too."""
    raw = to_line(request("big")).replace(
        '"status"', '"metadata": {"huge": 1e9999, "tiny": -2.5E-9999, "n": -0.0}, "status"'
    )
    path = write_jsonl(tmp_path / "in.jsonl", [raw])
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [path])
        stored = store.query("select cast(record as varchar) from raw.requests")[0][0]

    assert (report.loaded, report.total_quarantined) == (1, 0)
    metadata = json.loads(stored, parse_float=Decimal, parse_int=Decimal)["metadata"]
    assert (metadata["huge"], metadata["tiny"]) == (Decimal("1e9999"), Decimal("-2.5e-9999"))


def test_blank_lines_are_skipped_and_crlf_endings_are_accepted(
    target_env: Target, tmp_path: Path
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        b"\n   \n"
        + json.dumps(request("a")).encode()
        + b"\r\n\t\r\n"
        + json.dumps(request("b")).encode()
    )
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [path])
        lines = store.query("select request_id, source_line from raw.requests order by 1")

    assert (report.loaded, report.duplicates, report.total_quarantined) == (2, 0, 0)
    assert lines == [("a", 3), ("b", 5)]


def test_invalid_utf8_is_quarantined_as_invalid_json(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(json.dumps(request("a")).encode() + b'\n{"request_id": "\xff\xfe"}\n')
    with open_store("duckdb") as store:
        report = ingest_files(store, "requests", [path])
        assert quarantine_by_line(store)[2] == ("invalid_json", "line is not valid UTF-8")

    assert (report.loaded, report.quarantined) == (1, {"invalid_json": 1})


def test_gzip_input_is_read_like_plain_jsonl(target_env: Target, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(to_line(request("a")) + "\n" + "broken\n" + to_line(request("b")) + "\n")
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [path])
        assert quarantine_by_line(store)[2][0] == "invalid_json"

    assert (report.loaded, report.total_quarantined) == (2, 1)


def test_parquet_with_nested_structs_or_json_strings_loads_as_json_objects(
    target_env: Target, tmp_path: Path
) -> None:
    records = [request("p-1"), request("p-2", status="error")]
    del records[1]["response"]
    structs = tmp_path / "structs.parquet"
    pq.write_table(pa.Table.from_pylist(records), structs)
    as_strings = [
        {key: json.dumps(value) if isinstance(value, dict) else value for key, value in r.items()}
        for r in [request("p-3"), request("p-4", status="teapot")]
    ]
    strings = tmp_path / "strings.parquet"
    pq.write_table(pa.Table.from_pylist(as_strings), strings)
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [structs, strings])
        assert stored_record(store, "requests", "request_id", "p-1") == records[0]
        assert stored_record(store, "requests", "request_id", "p-2") == records[1]
        assert stored_record(store, "requests", "request_id", "p-3") == request("p-3")
        assert quarantine_by_line(store)[2][0] == "invalid_enum"
        lines = store.query("select request_id, source_line from raw.requests order by 1")

    assert (report.loaded, report.total_quarantined) == (3, 1)
    assert lines == [("p-1", 1), ("p-2", 2), ("p-3", 1)]


def test_the_same_record_from_parquet_and_jsonl_is_a_duplicate(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    jsonl = write_jsonl(tmp_path / "in.jsonl", [request("a")])
    parquet = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist([request("a")]), parquet)
    with open_store("duckdb") as store:
        ingest_files(store, "requests", [jsonl])
        report = ingest_files(store, "requests", [parquet])

    assert (report.loaded, report.duplicates, report.total_quarantined) == (0, 1, 0)


def test_ingest_records_takes_the_same_validation_and_dedup_path(
    target_env: Target, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [request("a")])
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        ingest_files(store, "requests", [path])
        report = ingest_records(
            store,
            "requests",
            [request("a"), request("b"), request("c", status="nope"), request("a", model="x")],
            source="replay:run-1",
        )
        again = ingest_records(store, "requests", [request("b")], source="replay:run-1")
        quarantined = store.query(
            "select source_file, source_line, reason from raw.quarantine order by source_line"
        )

    assert (report.loaded, report.duplicates) == (1, 1)
    assert report.quarantined == {"invalid_enum": 1, "conflict": 1}
    assert report.files == ["replay:run-1"]
    assert (again.loaded, again.duplicates) == (0, 1)
    assert quarantined == [("replay:run-1", 3, "invalid_enum"), ("replay:run-1", 4, "conflict")]


def test_large_inputs_stream_in_chunks_with_global_line_numbers_and_dedup(
    duckdb_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(line_chunks, "CHUNK_BYTES", 4096)
    items: list[str | dict[str, Any]] = [request(f"r-{i}") for i in range(60)]
    items += [request("r-0"), request("r-1", model="changed"), "broken"]
    path = write_jsonl(tmp_path / "in.jsonl", items)
    with open_store("duckdb") as store:
        report = ingest_files(store, "requests", [path])
        last = store.query("select source_line from raw.requests where request_id = 'r-59'")
        quarantined = quarantine_by_line(store)

    assert (report.loaded, report.duplicates) == (60, 1)
    assert report.quarantined == {"conflict": 1, "invalid_json": 1}
    assert last == [(60,)]
    assert quarantined[62][0] == "conflict" and quarantined[63][0] == "invalid_json"


def test_quarantine_ids_from_sql_and_python_agree(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [request("a"), "bad ✗", request("a", model="x")])
    with open_store("duckdb") as store:
        ingest_files(store, "requests", [path])
        rows = store.query(
            "select quarantine_id, source_file, source_line, raw_text from raw.quarantine"
        )

    assert len(rows) == 2  # one from the validation SQL, one conflict built in Python
    for qid, source_file, line, raw_text in rows:
        assert qid == quarantine_id("requests", source_file, line, raw_text)


def test_appends_commit_in_batches_and_a_failed_read_keeps_the_committed_ones(
    target_env: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines commit every COMMIT_LINES; a file that breaks midway loses only the open batch.

    Random padding keeps the file from compressing to a few hundred bytes: the
    inflater hands out what it decoded before the break in blocks.
    """
    monkeypatch.setattr(line_chunks, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(ingest_module, "COMMIT_LINES", 20)
    rng = random.Random(3)
    pads = [rng.randbytes(100).hex() for _ in range(400)]
    lines = [to_line(request(f"r-{i:03d}", metadata={"pad": pads[i]})) for i in range(400)]
    whole = ("\n".join(lines) + "\n").encode()
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(whole)[: len(gzip.compress(whole)) * 2 // 3])
    complete = write_jsonl(tmp_path / "complete.jsonl", lines)
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        with pytest.raises(TrellisError, match="cannot read"):
            ingest_files(store, "requests", [broken])
        committed = [row[0] for row in store.query("select request_id from raw.requests")]
        report = ingest_files(store, "requests", [complete])
        total = count(store, "requests")

    assert 0 < len(committed) < 400
    assert sorted(committed) == [f"r-{i:03d}" for i in range(len(committed))]
    assert (report.loaded, report.duplicates) == (400 - len(committed), len(committed))
    assert total == 400


def test_rows_of_stored_ids_are_judged_once_an_ingest_across_its_commits(
    target_env: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A periodic commit inserts the quarantine rows but leaves the rows of stored ids
    to the last flush: their stored records are fetched once, not once a commit, and
    every one is still judged (duplicate, re-spelled duplicate or conflict)."""
    monkeypatch.setattr(line_chunks, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(ingest_module, "COMMIT_LINES", 20)
    first = write_jsonl(tmp_path / "first.jsonl", [request(f"r-{i:03d}") for i in range(100)])
    again: list[str | dict[str, Any]] = []
    for i in range(100):
        if i % 10 == 0:
            again.append(request(f"r-{i:03d}", model="changed"))  # a conflict
        elif i % 10 == 1:
            again.append(json.dumps(request(f"r-{i:03d}"), indent=1).replace("\n", ""))
        else:
            again.append(request(f"r-{i:03d}"))
        again.append(request(f"n-{i:03d}"))
        if i % 25 == 0:
            again.append("not json")
    second = write_jsonl(tmp_path / "second.jsonl", again)
    fetches: list[int] = []
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        # stored with their text's hash: each row of a stored id needs its stored record
        ingest_text_hashed(store, "requests", [first])
        fetch = store.records_by_key

        def counted(table: str, key: str, keys: Any) -> dict[str, str]:
            fetches.append(len(keys))
            return fetch(table, key, keys)

        monkeypatch.setattr(store, "records_by_key", counted)
        report = ingest_files(store, "requests", [second])
        reasons = sorted(reason for reason, _ in quarantine_by_line(store).values())
        total = count(store, "requests")

    # the 100 rows of stored ids, fetched in one go although 200 lines took 10 commits
    assert fetches == [100]
    assert (report.loaded, report.duplicates) == (100, 90)
    assert report.quarantined == {"conflict": 10, "invalid_json": 4}
    assert reasons == ["conflict"] * 10 + ["invalid_json"] * 4
    assert total == 200


def test_content_fingerprints_judge_rows_of_stored_ids_without_reading_the_stored_records(
    target_env: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored and resent rows both fingerprinted by the C screen: exact and re-spelled
    resends are duplicates, changed ones conflicts, and no stored record is fetched."""
    monkeypatch.setattr(line_chunks, "CHUNK_BYTES", 4096)
    first = write_jsonl(tmp_path / "first.jsonl", [request(f"r-{i:03d}") for i in range(60)])
    again: list[str | dict[str, Any]] = []
    for i in range(60):
        if i % 10 == 0:
            again.append(request(f"r-{i:03d}", latency_ms=841))  # a conflict
        elif i % 10 == 1:
            record = request(f"r-{i:03d}")
            again.append(json.dumps(dict(reversed(list(record.items()))), indent=1))
        else:
            again.append(request(f"r-{i:03d}"))
    second = write_jsonl(
        tmp_path / "second.jsonl",
        [line.replace("\n", " ") if isinstance(line, str) else line for line in again],
    )
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        ingest_files(store, "requests", [first])

        def no_fetch(*args: Any) -> dict[str, str]:
            raise AssertionError(f"stored records fetched: {args}")

        monkeypatch.setattr(store, "records_by_key", no_fetch)
        report = ingest_files(store, "requests", [second])
        conflicts = sorted(row[0] for row in store.query("select record_id from raw.quarantine"))

    assert (report.loaded, report.duplicates) == (0, 54)
    assert report.quarantined == {"conflict": 6}
    assert conflicts == [f"r-{i:03d}" for i in range(0, 60, 10)]


def test_a_chunk_is_appended_before_the_next_one_is_read(
    duckdb_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The appends do not wait for the reader: a chunk is stored while the next is being read
    (the next one here waits until the first is reported stored, or 30 s)."""
    monkeypatch.setattr(line_chunks, "CHUNK_BYTES", 4096)
    path = write_jsonl(tmp_path / "slow.jsonl", [to_line(request(f"r-{i:03d}")) for i in range(40)])
    stored = threading.Event()
    waited: list[bool] = []
    chunks = line_chunks.iter_file_chunks

    def slow_chunks(source: Path) -> Any:
        for number, chunk in enumerate(chunks(source)):
            if number == 1:  # chunk 0 is read, chunk 1 not yet handed over
                waited.append(stored.wait(timeout=30))
            yield chunk

    monkeypatch.setattr(ingest_module, "iter_file_chunks", slow_chunks)
    with open_store("duckdb") as store:
        report = ingest_files(store, "requests", [path], on_progress=lambda *_: stored.set())
    assert waited == [True]
    assert report.loaded == 40


def test_a_reformatted_resend_is_compared_by_content_in_key_batches(
    target_env: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fingerprints differ for every line, so stored records are fetched (in batches) and parsed."""
    monkeypatch.setattr(storage_base, "KEY_BATCH", 7)
    records = [request(f"r-{i:02d}") for i in range(40)]
    first = write_jsonl(tmp_path / "first.jsonl", records)
    resent = [json.dumps(record, indent=None, separators=(" , ", " : ")) for record in records]
    resent[5] = to_line(request("r-05", model="changed"))
    resent[33] = to_line(request("r-33", status="error"))
    second = write_jsonl(tmp_path / "second.jsonl", resent)
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        ingest_text_hashed(store, "requests", [first])
        report = ingest_files(store, "requests", [second])
        conflicts = sorted(row[0] for row in store.query("select record_id from raw.quarantine"))

    assert (report.loaded, report.duplicates) == (0, 38)
    assert report.quarantined == {"conflict": 2}
    assert conflicts == ["r-05", "r-33"]


@pytest.mark.parametrize("stored", ["fingerprinted", "text-hashed"])
@pytest.mark.parametrize("precheck_ratio", [0, 400])
@pytest.mark.parametrize(("lookup_max", "fetch_join_ratio"), [(0, 0), (64, 10**9)])
@pytest.mark.parametrize("key_filter", ["off", "on", "always-maybe"])
def test_duckdb_append_strategies_agree(
    duckdb_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    precheck_ratio: int,
    lookup_max: int,
    fetch_join_ratio: int,
    key_filter: str,
    stored: str,
) -> None:
    """Key filter, key join or `on conflict ... returning`; hashes and stored records
    looked up by key or joined; a filter that knows nothing for sure; stored rows judged
    by their content fingerprints or by their stored records: the same outcome."""
    from trellis.storage import duckdb_store
    from trellis.storage import key_filter as key_filter_module

    monkeypatch.setattr(duckdb_store, "PRECHECK_MAX_RATIO", precheck_ratio)
    monkeypatch.setattr(duckdb_store, "KEY_LOOKUP_MAX", lookup_max)
    monkeypatch.setattr(duckdb_store, "FETCH_JOIN_RATIO", fetch_join_ratio)
    monkeypatch.setattr(duckdb_store, "KEY_FILTER", key_filter != "off")
    if key_filter == "always-maybe":
        monkeypatch.setattr(
            key_filter_module.KeyFilter,
            "may_hold",
            lambda self, positions: key_filter_module.np.ones(
                len(positions[0]), key_filter_module.np.bool_
            ),
        )
    first = write_jsonl(tmp_path / "first.jsonl", [request(f"r-{i}") for i in range(30)])
    second = write_jsonl(
        tmp_path / "second.jsonl",
        [
            request("r-3"),
            request("new-1"),
            request("r-7", model="changed"),
            request("new-2"),
            json.dumps(request("r-9"), indent=2).replace("\n", " "),
            request("new-1"),
        ],
    )
    with open_store("duckdb") as store:
        (ingest_files if stored == "fingerprinted" else ingest_text_hashed)(
            store, "requests", [first]
        )
        report = ingest_files(store, "requests", [second])
        ids = {row[0] for row in store.query("select request_id from raw.requests")}
        assert stored_record(store, "requests", "request_id", "r-7")["model"] == "gpt-4o"

    assert (report.loaded, report.duplicates) == (2, 3)
    assert report.quarantined == {"conflict": 1}
    assert {"new-1", "new-2"} <= ids and len(ids) == 32


def test_a_30_mb_record_is_validated_and_stored_whole(
    duckdb_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The validator runs out of memory on it; the chunk falls back to the large-record SQL.

    It names its id twice (same value), which the screen leaves to the SQL,
    so the SQL, not the screen, is what this tests.
    """
    fallbacks: list[int] = []
    large = validation_module.Validator._checked_large

    def counted(self: Any, chunk: pa.Table, parameters: dict[str, str]) -> pa.Table:
        fallbacks.append(chunk.num_rows)
        return large(self, chunk, parameters)

    monkeypatch.setattr(validation_module.Validator, "_checked_large", counted)
    huge = to_line(
        request("huge", request=_messages({"role": "user", "content": "x" * 30_000_000}))
    ).replace('{"request_id": "huge"', '{"request_id": "huge", "request_id": "huge"', 1)
    wrong = request("wrong", request=_messages({"role": "user", "content": 5}))
    path = write_jsonl(tmp_path / "in.jsonl", [request("a"), huge, wrong, request("b")])
    with open_store("duckdb") as store:
        report = ingest_files(store, "requests", [path])
        size = store.query(
            "select length(cast(record as varchar)) from raw.requests where request_id = 'huge'"
        )

    assert (report.loaded, report.quarantined) == (3, {"wrong_type": 1})
    assert size == [(len(to_line(huge)),)]
    assert fallbacks  # the large-record SQL did the work


@with_every_breach
def test_the_large_record_sql_classifies_like_the_usual_one(
    tmp_path: Path, kind: str, valid: dict[str, Any], breaches: list[tuple[Any, str, str]]
) -> None:
    import duckdb

    from trellis.services.contract import validation_sql

    lines = [valid, *(line for line, _, _ in breaches)]
    (chunk,) = line_chunks.iter_file_chunks(write_jsonl(tmp_path / "in.jsonl", lines))
    results = []
    for large in (False, True):
        conn = duckdb.connect()
        conn.register("chunk", chunk)
        sql = validation_sql(kind, large)  # type: ignore[arg-type]
        results.append(conn.execute(f"select * exclude (raw_text) from ({sql})").fetchall())
        conn.close()

    assert results[0] == results[1]
    assert len(results[0]) == len(breaches) + 1
