"""`trellis generate`: deterministic demo traffic whose truth files match what it wrote.

The checks here read the files back with their own small contract validator,
so a mistake in the generator's bookkeeping cannot hide behind itself.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from trellis.cli import app
from trellis.errors import TrellisError
from trellis_demo.generate import GenerateSummary, generate
from trellis_demo.lineage_reference import resolve

STATUSES = {"success", "error", "timeout", "fallback", "cancelled"}
OUTCOMES = {"success", "fallback", "timeout", "error", "user_rejected"}
SOURCES = {"auto", "user", "judge", "human"}
SCENARIOS = {
    "chat",
    "ide_loop",
    "code_agent",
    "batch_eval",
    "deep_loop",
    "cache_hit",
    "cache_hit_late_log",
    "cross_tenant_copy",
    "orphan_resumed",
    "explicit_missing",
    "explicit_cross_tenant",
    "explicit_cycle",
    "replay",
    "quarantined_parent",
    "default_tenant",
    "explicit_error_parent",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateSummary]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate(out, 5_000, seed=11)


# ----------------------------------------------------------- reading back


def read_lines(path: Path) -> Iterator[str]:
    opener: Any = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            yield line.rstrip("\n")


def _timestamp_ok(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def request_problem(line: str) -> tuple[str | None, Any]:
    """Reason a request line breaks contract v1, or None; and the parsed value."""
    try:
        record = json.loads(line)
    except ValueError:
        return "invalid_json", None
    if not isinstance(record, dict):
        return "not_an_object", record
    for name in ("request_id", "created_at", "model", "request"):
        if name not in record:
            return "missing_field", record
    request = record["request"]
    if not isinstance(record["model"], str) or not isinstance(request, dict):
        return "wrong_type", record
    if not isinstance(request.get("messages"), list) or not request["messages"]:
        return "wrong_type", record
    if not _timestamp_ok(record["created_at"]):
        return "invalid_timestamp", record
    if "status" in record and record["status"] not in STATUSES:
        return "invalid_enum", record
    usage = (record.get("response") or {}).get("usage") or {}
    if any(usage.get(key, 0) < 0 for key in ("prompt_tokens", "completion_tokens")):
        return "negative_tokens", record
    if any(record.get(key, 0) < 0 for key in ("latency_ms", "ttft_ms", "cost_usd")):
        return "out_of_range", record
    return None, record


def feedback_problem(line: str) -> tuple[str | None, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        return "invalid_json", None
    if not isinstance(record, dict):
        return "not_an_object", record
    for name in ("feedback_id", "request_id", "created_at", "outcome"):
        if name not in record:
            return "missing_field", record
    quality = record.get("completion_quality")
    if quality is not None and (isinstance(quality, bool) or not isinstance(quality, int | float)):
        return "wrong_type", record
    if not _timestamp_ok(record["created_at"]):
        return "invalid_timestamp", record
    if record["outcome"] not in OUTCOMES or record.get("source", "auto") not in SOURCES:
        return "invalid_enum", record
    if quality is not None and not 0 <= quality <= 10:
        return "out_of_range", record
    if record.get("rating") not in (None, -1, 1):
        return "out_of_range", record
    return None, record


def ingest_like(
    out: Path, files: list[str], kind: str
) -> tuple[dict[str, dict[str, Any]], Counter[str]]:
    """Valid first occurrences by id, and counts of everything else."""
    check = request_problem if kind == "requests" else feedback_problem
    key = "request_id" if kind == "requests" else "feedback_id"
    stored: dict[str, dict[str, Any]] = {}
    counts: Counter[str] = Counter()
    for name in files:
        if not name.startswith(kind):
            continue
        for line in read_lines(out / name):
            counts["lines"] += 1
            reason, record = check(line)
            if reason is not None:
                counts[reason] += 1
            elif record[key] not in stored:
                stored[record[key]] = record
            elif stored[record[key]] == record:
                counts["exact_duplicates"] += 1
            else:
                counts["conflict"] += 1
    return stored, counts


# ----------------------------------------------------------- tests


def test_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    def files(out: Path) -> dict[str, bytes]:
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.*"))}

    generate(tmp_path / "a", 1_200, seed=5)
    generate(tmp_path / "b", 1_200, seed=5)
    generate(tmp_path / "c", 1_200, seed=6)
    first, again, other = files(tmp_path / "a"), files(tmp_path / "b"), files(tmp_path / "c")
    assert first == again
    assert first["truth/lineage.jsonl"] != other["truth/lineage.jsonl"]


def test_construction_and_reference_resolver_agree(demo: tuple[Path, GenerateSummary]) -> None:
    _, summary = demo
    assert summary.requests == 5_000
    assert summary.truth_mismatches == 0


def test_truth_ingest_counts_match_the_files(demo: tuple[Path, GenerateSummary]) -> None:
    out, _ = demo
    expected = json.loads((out / "truth/ingest.json").read_text())
    files = expected["files"]
    assert any(name.endswith(".jsonl.gz") for name in files)
    assert sum(name.startswith("requests/") for name in files) >= 3
    requests, request_counts = ingest_like(out, files, "requests")
    feedback, feedback_counts = ingest_like(out, files, "feedback")
    for kind, stored, counts in (
        ("requests", requests, request_counts),
        ("feedback", feedback, feedback_counts),
    ):
        section = expected[kind]
        assert len(stored) == section["valid_unique"], kind
        assert counts["exact_duplicates"] == section["exact_duplicates"], kind
        assert counts["conflict"] == section["conflicting_duplicates"], kind
        assert counts["lines"] == section["lines"], kind
        for reason, count in section["quarantined_by_reason"].items():
            assert counts[reason] == count, (kind, reason)
    assert expected["valid_unique_requests"] == len(requests) == 5_000
    assert expected["valid_unique_feedback"] == len(feedback)
    totals = expected["quarantined_by_reason"]
    for reason in (
        "invalid_json",
        "not_an_object",
        "missing_field",
        "wrong_type",
        "invalid_timestamp",
        "invalid_enum",
        "negative_tokens",
        "out_of_range",
        "conflict",
    ):
        assert totals[reason] > 0, reason


def test_truth_lineage_is_the_resolver_applied_to_the_valid_lines(
    demo: tuple[Path, GenerateSummary],
) -> None:
    out, _ = demo
    files = json.loads((out / "truth/ingest.json").read_text())["files"]
    requests, _ = ingest_like(out, files, "requests")
    resolved = {key: node.as_dict() for key, node in resolve(requests.values()).items()}
    truth = {}
    for line in read_lines(out / "truth/lineage.jsonl"):
        row = json.loads(line)
        row.pop("scenario")
        truth[row["node_id"]] = row
    assert truth == resolved


def _truth(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in read_lines(out / "truth/lineage.jsonl")]


def test_demo_has_every_scenario_and_lineage_case(demo: tuple[Path, GenerateSummary]) -> None:
    out, _ = demo
    truth = _truth(out)
    assert {row["scenario"] for row in truth} == SCENARIOS
    kinds = Counter(row["branch_kind"] for row in truth)
    for kind in (
        "root",
        "continuation",
        "prompt_variant",
        "retry",
        "sampling_variant",
        "model_variant",
        "tool_variant",
    ):
        assert kinds[kind] > 0, kind
    orphans = Counter(row["lineage_source"] for row in truth if row["is_orphan"])
    assert orphans["content"] > 0 and orphans["explicit"] > 0
    sources = Counter(row["lineage_source"] for row in truth if row["parent_node_id"])
    assert sources["content"] > sources["explicit"] > 0
    assert max(row["depth"] for row in truth) >= 99
    assert len({row["tenant_id"] for row in truth}) == 4  # 3 tenants and "default"
    assert any(row["session_key"] != row["root_node_id"] for row in truth)
    cycle = [row for row in truth if row["scenario"] == "explicit_cycle"]
    assert sum(row["is_orphan"] for row in cycle) == 3  # self-loop, 2-cycle, 3-cycle


def test_demo_records_exercise_the_contract(demo: tuple[Path, GenerateSummary]) -> None:
    out, _ = demo
    files = json.loads((out / "truth/ingest.json").read_text())["files"]
    requests, _ = ingest_like(out, files, "requests")
    feedback, _ = ingest_like(out, files, "feedback")
    records = list(requests.values())
    seen: Counter[str] = Counter()
    days = set()
    for record in records:
        days.add(record["created_at"][:10])
        seen["offset+02"] += record["created_at"].endswith("+02:00")
        seen["status:" + record.get("status", "default")] += 1
        seen["cost"] += "cost_usd" in record
        seen["fallback"] += "fallback" in record
        seen["explicit_parent"] += "parent_request_id" in record
        seen["branch"] += "branch" in record
        seen["no_tenant"] += "tenant_id" not in record
        usage = (record.get("response") or {}).get("usage") or {}
        seen["cached"] += (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0) > 0
        for message in record["request"]["messages"]:
            seen["list_content"] += isinstance(message.get("content"), list)
            seen["tool_result"] += message["role"] == "tool" and "tool_call_id" in message
            seen["tool_call"] += message.get("content") is None and bool(message.get("tool_calls"))
            seen["name"] += "name" in message
        seen["provider:" + record.get("provider", "")] += 1
        seen["agent:" + record.get("agent_id", "")] += 1
        seen["model:" + record["model"]] += 1
    assert len(days) >= 28
    for record in records:
        start = datetime.fromisoformat(record["created_at"])
        assert datetime.fromisoformat(record["completed_at"]) >= start
        assert record.get("ttft_ms", 0) <= record["latency_ms"]
        usage = (record.get("response") or {}).get("usage") or {}
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
        assert cached <= usage.get("prompt_tokens", 0)
    created = {key: datetime.fromisoformat(row["created_at"]) for key, row in requests.items()}
    for row in _truth(out):
        if row["parent_node_id"] and row["scenario"] != "explicit_cycle":
            assert created[row["parent_node_id"]] < created[row["node_id"]], row
    for key in (
        "offset+02",
        "status:success",
        "status:error",
        "status:timeout",
        "status:fallback",
        "status:cancelled",
        "status:default",
        "cost",
        "fallback",
        "explicit_parent",
        "branch",
        "no_tenant",
        "cached",
        "list_content",
        "tool_result",
        "tool_call",
        "name",
        "provider:openai",
        "provider:anthropic",
        "provider:ollama",
        "provider:vllm",
        "agent:ide-agent",
        "agent:chat-ui",
        "agent:batch-evaluator",
        "agent:code-agent",
        "model:gpt-4o",
        "model:gpt-4o-mini",
        "model:claude-3-5-sonnet",
        "model:llama3.1:8b",
        "model:qwen2.5-coder-32b",
    ):
        assert seen[key] > 0, key
    assert seen["cost"] < len(records)
    fb = list(feedback.values())
    assert {row.get("source", "auto") for row in fb} == SOURCES
    assert {row.get("rating") for row in fb} >= {-1, 1}
    assert any("completion_quality" in row for row in fb)
    assert any(row["request_id"] not in requests for row in fb) is False


def test_late_arrivals_put_children_before_their_parents(
    demo: tuple[Path, GenerateSummary],
) -> None:
    out, _ = demo
    position = {}
    for index, line in enumerate(read_lines(out / "requests/requests-late.jsonl")):
        reason, record = request_problem(line)
        if reason is None:
            position.setdefault(record["request_id"], index)
    late_pairs = [
        row
        for row in _truth(out)
        if row["node_id"] in position and row["parent_node_id"] in position
    ]
    assert late_pairs
    assert all(position[row["node_id"]] < position[row["parent_node_id"]] for row in late_pairs)


@pytest.mark.parametrize(("profile", "depth"), [("chats", 9), ("agent-loops", 499)])
def test_benchmark_profiles_make_uniform_chains(tmp_path: Path, profile: str, depth: int) -> None:
    summary = generate(tmp_path, 1_000, seed=2, profile=profile, malformed=False)
    truth = _truth(tmp_path)
    assert summary.requests == len(truth) == 1_000
    assert summary.truth_mismatches == 0
    assert max(row["depth"] for row in truth) == depth
    assert {row["branch_kind"] for row in truth} == {"root", "continuation"}
    ingest = json.loads((tmp_path / "truth/ingest.json").read_text())
    assert sum(ingest["quarantined_by_reason"].values()) == 0
    assert ingest["exact_duplicate_lines"] == 0


def test_refuses_to_write_into_a_directory_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(TrellisError):
        generate(tmp_path, 10, seed=1)


def test_cli_writes_the_requested_traffic(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--requests",
            "400",
            "--seed",
            "3",
            "--tenants",
            "2",
            "--start",
            "2026-03-01",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    truth = _truth(tmp_path / "out")
    assert len(truth) == 400
    assert "400 requests" in result.output
