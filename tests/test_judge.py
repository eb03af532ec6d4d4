"""LLM-as-judge: templates, score parsers and judge runs appending feedback records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.openai_server import OpenAIServer, running_server
from tests.replay_world import conversation, job_counts, load
from trellis.config import TargetName
from trellis.errors import TrellisError
from trellis.runners.judge.manifest import parse_judge_manifest
from trellis.runners.judge.parsers import parse_score
from trellis.runners.judge.planner import plan_judge
from trellis.runners.judge.service import run_judge
from trellis.runners.judge.templates import parse_template
from trellis.storage import Store, open_store

TEMPLATE = {
    "id": "helpfulness",
    "version": 3,
    "parser": "last_line_score",
    "target": "trajectory",
    "messages": [
        {"role": "system", "content": "Grade it."},
        {
            "role": "user",
            "content": "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
            "Final: {{ final_reply }} ({{ steps | length }} steps)",
        },
    ],
}


@pytest.mark.parametrize(
    ("parser", "text", "score"),
    [
        ("last_line_score", "Good answer.\nSCORE: 7", 7.0),
        ("last_line_score", "ok\nScore = 8.5/10\n\n", 8.5),
        ("bold", "I'd give it **6/10** overall.", 6.0),
        ("bold", "**Score: 9**", 9.0),
        ("json", 'Here: ```json\n{"reason": "fine", "score": 4}\n```', 4.0),
        ("scale_1_10", "Rating.\nSCORE: 10", 10.0),
        ("scale_1_10", "**1**", 0.0),
    ],
)
def test_named_parsers_read_scores(parser: str, text: str, score: float) -> None:
    assert parse_score(parser, text) == (score, None)


@pytest.mark.parametrize(
    ("parser", "text", "error"),
    [
        ("last_line_score", "SCORE: 7\nbut then more text", "last line has no"),
        ("last_line_score", "SCORE: 11", "outside 0-10"),
        ("bold", "no bold", "no bold score"),
        ("json", '{"score": "high"}', "numeric `score`"),
        ("scale_1_10", "SCORE: 0", "outside 1-10"),
    ],
)
def test_a_parse_failure_is_a_reason_not_an_exception(parser: str, text: str, error: str) -> None:
    score, reason = parse_score(parser, text)
    assert score is None and reason is not None and error in reason


def test_templates_are_strict_about_missing_variables() -> None:
    template = parse_template(
        {**TEMPLATE, "messages": [{"role": "user", "content": "{{ nope }}"}]}, "t"
    )
    with pytest.raises(TrellisError, match="'nope' is undefined"):
        template.render({"messages": []})
    with pytest.raises(TrellisError, match="unknown parser"):
        parse_template({**TEMPLATE, "parser": "vibes"}, "t")


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with running_server() as srv:
        yield srv


@pytest.fixture
def store(target_env: tuple[str, dict[str, str]]) -> Iterator[Store]:
    target: TargetName = target_env[0]  # type: ignore[assignment]
    with open_store(target) as opened:
        load(opened, conversation())
        build_judge_marts(opened)
        yield opened


def build_judge_marts(store: Store) -> None:
    """Stand-ins for lineage.trajectory_units and lineage.response_branch_records."""
    store.execute(
        "create table lineage.trajectory_units (trajectory_id varchar, session_key varchar, "
        "tenant_id varchar, root_node_id varchar, leaf_node_id varchar, node_ids varchar)"
    )
    for leaf in ("n-b", "n-c"):
        store.execute(
            "insert into lineage.trajectory_units values (?, 's1', 'acme', 'n-root', ?, ?)",
            [f"t-{leaf}", leaf, json.dumps(["n-root", "n-a", leaf])],
        )
    store.execute(
        "create table lineage.response_branch_records (response_group_id varchar, "
        "node_id varchar, context_anchor_node_id varchar, branch_index integer, "
        "tenant_id varchar, agent_id varchar, model varchar)"
    )
    for index, node in enumerate(("n-b", "n-c")):
        store.execute(
            "insert into lineage.response_branch_records values "
            "('g1', ?, 'n-a', ?, 'acme', 'ide', 'gpt-4o')",
            [node, index],
        )


def write(
    tmp_path: Path,
    server: OpenAIServer,
    template: dict[str, Any],
    judges: list[Any],
    targets: dict[str, Any],
) -> Path:
    (tmp_path / "template.yaml").write_text(yaml.safe_dump(template))
    path = tmp_path / "judge.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "targets": targets,
                "templates": ["template.yaml"],
                "judges": judges,
                "endpoints": {"default": {"base_url": server.base_url}},
                "run": {
                    "concurrency": 4,
                    "max_attempts": 2,
                    "backoff_base_s": 0.01,
                    "timeout_s": 2,
                },
            }
        )
    )
    return path


def judge(store: Store, path: Path) -> Any:
    raw = yaml.safe_load(path.read_text())
    """(the plan, how many tasks were new, the run's summary)."""
    manifest = parse_judge_manifest(raw, path.parent, str(path))
    result = run_judge(store, plan_judge(store, manifest, raw))
    return result.plan, result.new_tasks, result.summary


def feedback(store: Store) -> list[dict[str, Any]]:
    rows = store.query("select record from raw.feedback order by feedback_id")
    return [json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in rows]


def test_judging_trajectories_stores_scores_raw_text_and_parse_errors(
    store: Store, server: OpenAIServer, tmp_path: Path
) -> None:
    server.state.replier = lambda body: (
        "Solid.\nSCORE: 7" if body["model"] == "judge-a" else "I refuse."
    )
    path = write(
        tmp_path,
        server,
        TEMPLATE,
        [{"model": "judge-a"}, {"model": "judge-b"}],
        {"kind": "trajectory"},
    )
    _, new, summary = judge(store, path)
    assert new == 4 and summary.done == 4
    prompt = server.requests[0]["messages"][1]["content"]
    assert "user: Plan a trip to Lisbon." in prompt and "(3 steps)" in prompt
    records = feedback(store)
    assert len(records) == 4 and all(r["source"] == "judge" for r in records)
    assert {r["request_id"] for r in records} == {"n-b", "n-c"}  # the leaves of the trajectories
    for record in records:
        meta = record["metadata"]
        assert meta["template_id"] == "helpfulness" and meta["template_version"] == "3"
        assert meta["target_kind"] == "trajectory" and meta["target_id"] in ("t-n-b", "t-n-c")
        if meta["judge_model"] == "judge-a":
            assert record["completion_quality"] == 7 and meta["parse_error"] is None
        else:
            assert "completion_quality" not in record
            assert meta["raw_text"] == "I refuse." and "SCORE" in meta["parse_error"]
    calls = len(server.requests)
    _, new, summary = judge(store, path)
    assert new == 0 and summary.done == 0 and len(server.requests) == calls


def test_judging_response_groups_scores_each_member_with_its_group(
    store: Store, server: OpenAIServer, tmp_path: Path
) -> None:
    server.state.replier = lambda body: "**10**"
    template = {
        "id": "pairwise",
        "version": "1",
        "parser": "scale_1_10",
        "target": "response",
        "messages": [{"role": "user", "content": "{{ response }} vs {{ group | length }} answers"}],
    }
    path = write(
        tmp_path, server, template, [{"model": "judge-a"}], {"kind": "response", "ids": ["g1"]}
    )
    _, new, summary = judge(store, path)
    assert new == 2 and summary.done == 2
    records = feedback(store)
    assert {r["request_id"] for r in records} == {"n-b", "n-c"}
    assert all(
        r["completion_quality"] == 10 and r["metadata"]["target_id"] == "g1" for r in records
    )
    assert "Hostels then. vs 2 answers" in {m["messages"][0]["content"] for m in server.requests}


def test_a_judge_call_that_keeps_failing_leaves_no_feedback(
    store: Store, server: OpenAIServer, tmp_path: Path
) -> None:
    path = write(tmp_path, server, TEMPLATE, [{"model": "fault:500"}], {"kind": "trajectory"})
    _, _, summary = judge(store, path)
    assert summary.failed == 2 and feedback(store) == []
    assert job_counts(store) == {"failed": 2}


def test_a_template_for_another_target_kind_is_a_manifest_error(
    store: Store, server: OpenAIServer, tmp_path: Path
) -> None:
    path = write(tmp_path, server, TEMPLATE, [{"model": "j"}], {"kind": "response"})
    with pytest.raises(
        TrellisError, match="judges target trajectory, the manifest selects response"
    ):
        judge(store, path)
