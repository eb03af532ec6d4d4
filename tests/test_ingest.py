"""Ingest (contract section 4) against a real DuckDB file and a real PostgreSQL database."""

from __future__ import annotations

import gzip
import json
import random
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
from trellis.ingest import IngestReport, SourceItem, ingest_files, ingest_items, ingest_records
from trellis.ingest import load as load_module
from trellis.ingest import read as read_module
from trellis.ingest.contract import REASONS
from trellis.storage import Store, open_store

Target = tuple[str, dict[str, str]]


def ingest_text_hashed(store: Store, kind: str, paths: list[Path]) -> IngestReport:
    """Ingest, then give the stored rows an older kind of record_hash (md5 of the id), as
    warehouses written before content fingerprints hold: the next ingest rehashes them."""
    report = ingest_files(store, kind, paths)
    table, key = ("requests", "request_id") if kind == "requests" else ("feedback", "feedback_id")
    store.execute(f"update raw.{table} set record_hash = md5({key})")
    store.execute("delete from raw.ingest_meta")
    return report


def is_content_hash(value: str) -> bool:
    return len(value) == 32 and all(char in "0123456789abcdef" for char in value)


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
    ('{"request_id": "r-dup", "request_id": "r-dup2"}', "duplicate_key", "repeated"),
    # a colon spelled as an escape makes up for the repeated key's colon
    ('{"request_id": "r-dup4", "a": 1, "a": 2, "s": "x\\u003ay"}', "duplicate_key", "repeated"),
    (
        to_line(request("r-dup3")).replace('"status"', '"status": "bogus", "status"'),
        "duplicate_key",
        "repeated",
    ),
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
    # fields dbt casts: types, finite, the range of the column they land in
    (request("r-t1", latency_ms=1e-310), "out_of_range", "latency_ms"),
    # a path's latencies are summed exactly: one call may not outlast some 31 years
    (request("r-t1b", latency_ms=2e12), "out_of_range", "latency_ms"),
    (request("r-t1c", ttft_ms=1.5e12), "out_of_range", "ttft_ms"),
    (to_line(request("r-t2")).replace("840", "1e999"), "out_of_range", "latency_ms"),
    (to_line(request("r-t3")).replace("0.0001", "1e-400"), "out_of_range", "cost_usd"),
    (request("r-t4", response=_usage(prompt_tokens=2**63)), "out_of_range", "prompt_tokens"),
    (request("r-t5", response=_usage(prompt_tokens=10**30)), "out_of_range", "prompt_tokens"),
    (request("r-t6", response=_usage(completion_tokens=1.5)), "wrong_type", "completion_tokens"),
    (
        request("r-t7", request={**_messages(TRICKY_TEXT), "temperature": "hot"}),
        "wrong_type",
        "temperature",
    ),
    (
        request("r-t8", request={**_messages(TRICKY_TEXT), "seed": 2**64 - 1}),
        "out_of_range",
        "seed",
    ),
    (request("r-t9", request={**_messages(TRICKY_TEXT), "n": "two"}), "wrong_type", "request.n"),
    (request("r-ta", error={"http_status": "five hundred"}), "wrong_type", "http_status"),
    (request("r-tb", response=_usage(cache_read_input_tokens="x")), "wrong_type", "cache_read"),
    (request("r-tc", response=_usage(cache_read_input_tokens=-1)), "negative_tokens", "cache_read"),
    (request("r-td", branch={"kind": "sideways"}), "invalid_enum", "branch.kind"),
    (
        request("r-te", response=_usage(prompt_tokens_details={"cached_tokens": 13})),
        "inconsistent",
        "cached_tokens",
    ),
    (request("r-tf", completed_at="2026-03-01T11:59:59Z"), "inconsistent", "completed_at"),
    (request("x" * 257), "out_of_range", "request_id"),
    (request("r-th", created_at="0000-03-01T12:00:00Z"), "invalid_timestamp", "created_at"),
    (request("r-ti", created_at="2026-03-01T24:00:00Z"), "invalid_timestamp", "24:00"),
    (request("r-tj", created_at="2016-12-31T23:59:60Z"), "invalid_timestamp", "leap"),
    (request("r-tk", created_at="2026-03-01T12:00:00+15:00"), "invalid_timestamp", "offset"),
    (request("r-tl", created_at=1772366400), "wrong_type", "created_at"),
    (request("r-tm", created_at="2026-03-01t12:00:00z"), "invalid_timestamp", "created_at"),
    (
        '{"request_id": "r-deep", "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "invalid_json",
        "deep",
    ),
    ('{"request_id": "r-nul", "model": "a\x00b"}', "invalid_json", "NUL"),
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
    (feedback("f-m", rating=-1.0), "out_of_range", "rating"),
    ('{"feedback_id": "f-n", "rating": 1, "rating": 1}', "duplicate_key", "repeated"),
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
def test_every_contract_breach_is_quarantined_with_its_reason_file_line_and_text(
    target_env: Target,
    tmp_path: Path,
    kind: str,
    valid: dict[str, Any],
    breaches: list[tuple[str | dict[str, Any], str, str]],
) -> None:
    """The same reasons on both targets; nothing PostgreSQL would refuse reaches it."""
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
        # a NUL byte, which PostgreSQL text cannot hold, is kept as the escape \x00
        assert texts[line] == to_line(content).replace("\x00", "\\x00")
        expected[reason] = expected.get(reason, 0) + 1
    assert report.quarantined == expected
    assert report.total_quarantined == len(breaches)
    assert files == {str(path)}
    assert kinds == {kind}


def test_reason_codes_are_stable() -> None:
    assert REASONS == (
        "invalid_json",
        "not_an_object",
        "duplicate_key",
        "missing_field",
        "wrong_type",
        "invalid_timestamp",
        "invalid_enum",
        "negative_tokens",
        "out_of_range",
        "inconsistent",
        "tenant_mismatch",
        "unreadable",
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


def test_a_record_naming_a_key_twice_is_quarantined_and_a_later_copy_loads(
    target_env: Target, tmp_path: Path
) -> None:
    """PostgreSQL keeps the last of two values, the checks would read the first: neither."""
    first = to_line(request("twice")).replace(
        '{"request_id": "twice"', '{"request_id": "twice", "request_id": "twice"', 1
    )
    path = write_jsonl(tmp_path / "in.jsonl", [first, request("twice", model="other")])
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [path])
        stored = stored_record(store, "requests", "request_id", "twice")
        quarantined = quarantine_by_line(store)

    assert (report.loaded, report.quarantined) == (1, {"duplicate_key": 1})
    assert stored["model"] == "other"
    assert quarantined[1][0] == "duplicate_key"


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


def test_invalid_utf8_is_quarantined_as_invalid_json_with_its_bytes_escaped(
    target_env: Target, tmp_path: Path
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(json.dumps(request("a")).encode() + b'\n{"request_id": "\xff\xfe"}\n')
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [path])
        assert quarantine_by_line(store)[2] == ("invalid_json", "line is not valid UTF-8")
        assert store.query("select raw_text from raw.quarantine") == [
            ('{"request_id": "\\xff\\xfe"}',)
        ]

    assert (report.loaded, report.quarantined) == (1, {"invalid_json": 1})


def test_gzip_input_is_read_like_plain_jsonl(target_env: Target, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(to_line(request("a")) + "\n" + "broken\n" + to_line(request("b")) + "\n")
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [path])
        assert quarantine_by_line(store)[2][0] == "invalid_json"

    assert (report.loaded, report.total_quarantined) == (2, 1)


def test_every_member_of_a_multi_member_gzip_file_loads_whatever_the_block_size(
    target_env: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A block that ends just short of a member's end marker: the next block
    inflates to nothing, which must not read as the end of the file."""
    first = gzip.compress((to_line(request("g-1")) + "\n").encode())
    second = gzip.compress((to_line(request("g-2")) + "\n").encode())
    path = tmp_path / "members.jsonl.gz"
    path.write_bytes(first + second)
    monkeypatch.setattr(read_module, "GZIP_BLOCK_BYTES", len(first) - 4)
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [path])

    assert (report.loaded, report.total_quarantined) == (2, 0)


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
    monkeypatch.setattr(load_module, "BATCH_LINES", 7)
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


def test_the_same_bad_file_from_another_path_is_not_quarantined_twice(
    target_env: Target, tmp_path: Path
) -> None:
    """Quarantine rows are identified by the file's content and line, not its path."""
    lines = [request("a"), "bad ✗", request("a", model="x")]
    here = write_jsonl(tmp_path / "in.jsonl", lines)
    (tmp_path / "copy").mkdir()
    there = write_jsonl(tmp_path / "copy" / "renamed.jsonl", lines)
    other = write_jsonl(tmp_path / "other.jsonl", ["bad ✗", "bad ✗"])
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        ingest_files(store, "requests", [here])
        again = ingest_files(store, "requests", [there])
        different = ingest_files(store, "requests", [other])
        rows = count(store, "quarantine")

    assert (again.total_quarantined, again.already_quarantined) == (2, 2)
    assert (different.total_quarantined, different.already_quarantined) == (2, 0)
    assert rows == 4


def test_a_truncated_gzip_file_loads_what_is_readable_and_records_the_rest(
    target_env: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random padding keeps the file from compressing to a few hundred bytes: the
    inflater hands out what it decoded before the break in blocks."""
    monkeypatch.setattr(load_module, "BATCH_LINES", 20)
    rng = random.Random(3)
    pads = [rng.randbytes(100).hex() for _ in range(400)]
    lines = [to_line(request(f"r-{i:03d}", metadata={"pad": pads[i]})) for i in range(400)]
    whole = ("\n".join(lines) + "\n").encode()
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress(whole)[: len(gzip.compress(whole)) * 2 // 3])
    complete = write_jsonl(tmp_path / "complete.jsonl", lines)
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        first = ingest_files(store, "requests", [broken])
        committed = [row[0] for row in store.query("select request_id from raw.requests")]
        unreadable = store.query(
            "select source_line, detail from raw.quarantine where reason = 'unreadable'"
        )
        report = ingest_files(store, "requests", [complete])
        total = count(store, "requests")

    assert 0 < len(committed) < 400
    assert sorted(committed) == [f"r-{i:03d}" for i in range(len(committed))]
    assert first.loaded == len(committed)
    assert first.quarantined.get("unreadable") == 1
    assert unreadable[0][0] > len(committed) and "cannot be read" in unreadable[0][1]
    assert report.loaded + report.duplicates == 400
    assert total == 400


@pytest.mark.parametrize("stored", ["fingerprinted", "older-hash"])
def test_rows_of_stored_ids_are_judged_across_many_batches(
    target_env: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored: str
) -> None:
    """Exact and re-spelled resends are duplicates, changed ones conflicts, over many
    batches; rows stored with an older record_hash are rehashed first, so they judge alike."""
    monkeypatch.setattr(load_module, "BATCH_LINES", 20)
    first = write_jsonl(tmp_path / "first.jsonl", [request(f"r-{i:03d}") for i in range(100)])
    again: list[str | dict[str, Any]] = []
    for i in range(100):
        if i % 10 == 0:
            again.append(request(f"r-{i:03d}", model="changed"))  # a conflict
        elif i % 10 == 1:
            record = request(f"r-{i:03d}")
            reordered = json.dumps(dict(reversed(list(record.items()))), indent=1)
            again.append(reordered.replace("\n", "").replace("840", "8.4e2"))
        else:
            again.append(request(f"r-{i:03d}"))
        again.append(request(f"n-{i:03d}"))
        if i % 25 == 0:
            again.append("not json")
    second = write_jsonl(tmp_path / "second.jsonl", again)
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        (ingest_files if stored == "fingerprinted" else ingest_text_hashed)(
            store, "requests", [first]
        )
        report = ingest_files(store, "requests", [second])
        reasons = sorted(reason for reason, _ in quarantine_by_line(store).values())
        total = count(store, "requests")
        unchanged = stored_record(store, "requests", "request_id", "r-010")["model"]

    assert (report.loaded, report.duplicates) == (100, 90)
    assert report.quarantined == {"conflict": 10, "invalid_json": 4}
    assert reasons == ["conflict"] * 10 + ["invalid_json"] * 4
    assert total == 200
    assert unchanged == "gpt-4o"


def test_each_batch_is_committed_before_progress_is_reported(
    target_env: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Progress counts committed lines: a crash or Ctrl-C after it keeps them."""
    monkeypatch.setattr(load_module, "BATCH_LINES", 10)
    path = write_jsonl(tmp_path / "in.jsonl", [request(f"r-{i:03d}") for i in range(35)])
    seen: list[tuple[int, int]] = []
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]

        def progress(source: str, lines: int) -> None:
            seen.append((lines, count(store, "requests")))

        report = ingest_files(store, "requests", [path], on_progress=progress)

    assert seen == [(10, 10), (20, 20), (30, 30), (35, 35)]
    assert report.loaded == 35


def test_a_30_mb_record_is_validated_and_stored_whole(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    huge = to_line(
        request("huge", request=_messages({"role": "user", "content": "x" * 30_000_000}))
    )
    wrong = request("wrong", request=_messages({"role": "user", "content": 5}))
    path = write_jsonl(tmp_path / "in.jsonl", [request("a"), huge, wrong, request("b")])
    with open_store("duckdb") as store:
        report = ingest_files(store, "requests", [path])
        size = store.query(
            "select length(cast(record as varchar)) from raw.requests where request_id = 'huge'"
        )

    assert (report.loaded, report.quarantined) == (3, {"wrong_type": 1})
    assert size == [(len(huge),)]


#: (value, other spelling or value, same content) inside a record's metadata.
SPELLINGS = [
    ('{"a": 1, "b": [1, 2]}', '{ "b": [1,2], "a": 1 }', True),
    ('{"n": 1}', '{"n": 1.0}', True),
    ('{"n": 1}', '{"n": 1e0}', True),
    ('{"n": 10}', '{"n": 1E+1}', True),
    ('{"n": 0.1}', '{"n": 1e-1}', True),
    ('{"n": -0}', '{"n": 0.0e7}', True),
    ('{"n": 12345678901234567890123}', '{"n": 1.2345678901234567890123e22}', True),
    ('{"n": 0.30000000000000001}', '{"n": 0.3}', False),  # equal as floats only
    ('{"n": -1}', '{"n": 1}', False),
    ('{"n": 1e5}', '{"n": 1e-5}', False),
    ('{"n": true}', '{"n": 1}', False),
    ('{"n": false}', '{"n": 0}', False),
    ('{"n": "1"}', '{"n": 1}', False),
    ('{"n": null}', "{}", False),
    ('{"n": null}', '{"n": ""}', False),
    ('{"n": []}', '{"n": {}}', False),
    ('{"n": [[]]}', '{"n": [[], []]}', False),
    ('{"n": [1, 2]}', '{"n": [2, 1]}', False),
    ('{"a": "b"}', '{"b": "a"}', False),  # key and value do not commute
    ('{"a": {"b": 1}}', '{"a": {}, "b": 1}', False),
    ('{"s": "\\u00e9"}', '{"s": "\u00e9"}', True),
    ('{"s": "\\ud83d\\ude00"}', '{"s": "\U0001f600"}', True),
    ('{"s": "\\/\\n"}', '{"s": "/\\u000A"}', True),
    ('{"s": "a:b"}', '{"s": "a\\u003ab"}', True),
    ('{"s": "abcdefghijklmnopq"}', '{"s": "abcdefghijklmnopr"}', False),
]


def test_a_resend_is_a_duplicate_exactly_when_it_holds_the_same_json_value(
    duckdb_env: dict[str, str], tmp_path: Path
) -> None:
    """Key order, white space, escapes and number spelling do not matter; types and
    values do (`true` is not `1`, 0.30000000000000001 is not 0.3)."""

    def line(index: int, value: str) -> str:
        return to_line(request(f"s-{index:02d}")).replace(
            '"status"', f'"metadata": {{"v": {value}}}, "status"'
        )

    first = write_jsonl(tmp_path / "a.jsonl", [line(i, a) for i, (a, _, _) in enumerate(SPELLINGS)])
    second = write_jsonl(
        tmp_path / "b.jsonl", [line(i, b) for i, (_, b, _) in enumerate(SPELLINGS)]
    )
    with open_store("duckdb") as store:
        loaded = ingest_files(store, "requests", [first])
        report = ingest_files(store, "requests", [second])
        conflicts = {row[0] for row in store.query("select record_id from raw.quarantine")}

    assert loaded.loaded == len(SPELLINGS)
    expected = {f"s-{i:02d}" for i, (_, _, same) in enumerate(SPELLINGS) if not same}
    assert conflicts == expected
    assert report.duplicates == len(SPELLINGS) - len(expected)


def test_feedback_for_a_request_of_another_tenant_is_quarantined(
    target_env: Target, tmp_path: Path
) -> None:
    """Checked when the request is stored; feedback naming no tenant, or arriving
    before its request, loads (the warehouse joins on id and tenant)."""
    requests = write_jsonl(tmp_path / "r.jsonl", [request("r-acme", tenant_id="acme")])
    feedbacks = write_jsonl(
        tmp_path / "f.jsonl",
        [
            feedback("f-other", request_id="r-acme", tenant_id="globex"),
            feedback("f-same", request_id="r-acme", tenant_id="acme"),
            feedback("f-unnamed", request_id="r-acme"),
            feedback("f-early", request_id="r-later", tenant_id="globex"),
        ],
    )
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        ingest_files(store, "requests", [requests])
        report = ingest_files(store, "feedback", [feedbacks])
        loaded = sorted(row[0] for row in store.query("select feedback_id from raw.feedback"))
        quarantined = quarantine_by_line(store)

    assert report.quarantined == {"tenant_mismatch": 1}
    assert quarantined[1][0] == "tenant_mismatch" and "another tenant" in quarantined[1][1]
    assert loaded == ["f-early", "f-same", "f-unnamed"]


def test_ingest_items_quarantines_unmapped_items_and_keeps_the_original_text(
    target_env: Target,
) -> None:
    items = [
        SourceItem(1, '{"id": "a", "src": "native"}', request("a")),
        SourceItem(2, "<unparseable vendor line>", None, "invalid_json"),
        SourceItem(3, '{"id": "c", "when": "nope"}', request("c", created_at="nope")),
        SourceItem(4, '{"id": "a", "src": "native"}', request("a")),
    ]
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_items(store, "requests", items, source="importer:vendor-x")
        again = ingest_items(store, "requests", items, source="importer:vendor-x")
        rows = store.query(
            "select source_line, reason, raw_text from raw.quarantine order by source_line"
        )
        stored = stored_record(store, "requests", "request_id", "a")

    assert (report.loaded, report.duplicates) == (1, 1)
    assert report.quarantined == {"invalid_json": 1, "invalid_timestamp": 1}
    assert rows == [
        (2, "invalid_json", "<unparseable vendor line>"),
        (3, "invalid_timestamp", '{"id": "c", "when": "nope"}'),
    ]
    assert stored == request("a")
    assert (again.loaded, again.duplicates, again.already_quarantined) == (0, 2, 2)


def test_a_parquet_column_of_an_extension_type_is_converted(
    target_env: Target, tmp_path: Path
) -> None:
    import uuid

    rows = [request("u-1"), request("u-2")]
    table = pa.Table.from_pylist(rows).append_column(
        "trace_id", pa.array([uuid.UUID(int=1).bytes, uuid.UUID(int=2).bytes], pa.uuid())
    )
    path = tmp_path / "uuid.parquet"
    pq.write_table(table, path)
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [path])
        stored = stored_record(store, "requests", "request_id", "u-1")

    assert report.loaded == 2
    assert stored["trace_id"] == str(uuid.UUID(int=1))


def test_a_utf8_byte_order_mark_at_the_start_of_a_file_is_skipped(
    target_env: Target, tmp_path: Path
) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(request("a")).encode() + b"\r\n")
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [path])

    assert (report.loaded, report.total_quarantined) == (1, 0)


def test_the_same_request_id_in_two_tenants_is_two_requests_not_a_conflict(
    target_env: Target, tmp_path: Path
) -> None:
    """A request id is unique within its tenant only: another tenant's record with the
    same id loads, and resending both is a no-op."""
    acme = request("shared", tenant_id="acme", model="gpt-4o")
    globex = request("shared", tenant_id="globex", model="gpt-4o-mini")
    path = write_jsonl(tmp_path / "in.jsonl", [acme, globex])
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        first = ingest_files(store, "requests", [path])
        again = ingest_files(store, "requests", [path])
        stored = store.query(
            "select tenant_id, cast(record as varchar) from raw.requests order by tenant_id"
        )
        quarantined = count(store, "quarantine")

    assert (first.loaded, first.duplicates, first.quarantined) == (2, 0, {})
    assert (again.loaded, again.duplicates, again.quarantined) == (0, 2, {})
    assert [(tenant, json.loads(record)) for tenant, record in stored] == [
        ("acme", acme),
        ("globex", globex),
    ]
    assert quarantined == 0


def test_the_same_request_id_twice_in_one_tenant_is_still_a_conflict_in_one_batch_or_two(
    target_env: Target, tmp_path: Path
) -> None:
    """Rounds and conflicts are per (tenant, id): another tenant's copy between the two
    changes nothing."""
    original = request("shared", tenant_id="acme", model="gpt-4o")
    other_tenant = request("shared", tenant_id="globex", model="gpt-4o-mini")
    changed = request("shared", tenant_id="acme", model="o3")
    one = write_jsonl(tmp_path / "one.jsonl", [original, other_tenant, changed])
    later = write_jsonl(tmp_path / "later.jsonl", [changed])
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [one])
        resent = ingest_files(store, "requests", [later])
        quarantined = quarantine_by_line(store)
        acme_model = store.query(
            "select record->>'model' from raw.requests where tenant_id = 'acme'"
        )

    assert (report.loaded, report.duplicates, report.quarantined) == (2, 0, {"conflict": 1})
    assert quarantined[3][0] == "conflict"
    assert resent.quarantined == {"conflict": 1}
    assert acme_model == [("gpt-4o",)]


def test_feedback_for_an_id_stored_under_several_tenants_applies_to_the_tenant_it_names(
    target_env: Target, tmp_path: Path
) -> None:
    """A tenant mismatch only when the request is stored and not under the named tenant."""
    requests = write_jsonl(
        tmp_path / "r.jsonl",
        [request("shared", tenant_id="acme"), request("shared", tenant_id="globex")],
    )
    feedbacks = write_jsonl(
        tmp_path / "f.jsonl",
        [
            feedback("f-globex", request_id="shared", tenant_id="globex"),
            feedback("f-acme", request_id="shared", tenant_id="acme"),
            feedback("f-initech", request_id="shared", tenant_id="initech"),
        ],
    )
    with open_store(target_env[0]) as store:  # type: ignore[arg-type]
        ingest_files(store, "requests", [requests])
        report = ingest_files(store, "feedback", [feedbacks])
        loaded = sorted(row[0] for row in store.query("select feedback_id from raw.feedback"))

    assert report.quarantined == {"tenant_mismatch": 1}
    assert loaded == ["f-acme", "f-globex"]
