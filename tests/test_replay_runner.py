"""Replay planning and running against a real store (DuckDB and PostgreSQL) and a real server."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.openai_server import OpenAIServer, running_server
from tests.replay_world import conversation, job_counts, load, many_roots, replay_records, request
from trellis.config import TargetName
from trellis.errors import TrellisError
from trellis.runners.replay.manifest import parse_manifest
from trellis.runners.replay.planner import plan_replay
from trellis.runners.replay.service import plan, run_replay
from trellis.runners.replay.stale import CurrentVersions
from trellis.storage import Store, open_store


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with running_server() as srv:
        yield srv


@pytest.fixture
def store(target_env: tuple[str, dict[str, str]]) -> Iterator[Store]:
    target: TargetName = target_env[0]  # type: ignore[assignment]
    with open_store(target) as opened:
        yield opened


def manifest(server: OpenAIServer, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "mode": "node",
        "nodes": {"ids": ["n-a", "n-b"]},
        "variants": [
            {"name": "mini", "model": "gpt-4o-mini", "sampling": {"temperature": 0}},
            {
                "name": "terse",
                "model": "gpt-4o",
                "samples": 2,
                "tools": "none",
                "system_prompt": "Be terse, {{ agent_id }}.",
            },
        ],
        "endpoints": {"default": {"base_url": server.base_url}},
        "run": {"concurrency": 4, "max_attempts": 3, "timeout_s": 2, "backoff_base_s": 0.01},
    }
    raw.update(overrides)
    return raw


def run(store: Store, raw: dict[str, Any]) -> Any:
    """(the cohort run, its summary)."""
    result = run_replay(store, plan(store, parse_manifest(raw), raw))
    return result, result.summary


def test_node_mode_replays_each_node_as_a_sibling_under_each_variant(
    store: Store, server: OpenAIServer
) -> None:
    load(store, conversation())
    enqueued, summary = run(store, manifest(server))
    assert enqueued.new_tasks == 6 and summary.done == 6 and summary.failed == 0
    records = replay_records(store)
    assert len(records) == 6
    by_node: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_node.setdefault(record["branch"]["replay_of_request_id"], []).append(record)
    assert {k: len(v) for k, v in by_node.items()} == {"n-a": 3, "n-b": 3}
    original_b = conversation()[2]
    for record in by_node["n-b"]:
        assert record["parent_request_id"] == "n-a"  # n-b's parent: the replay is n-b's sibling
        assert record["session_id"] == "s1" and record["tenant_id"] == "acme"
        assert record["branch"]["kind"] == "replay"
        assert record["branch"]["cohort_id"] == enqueued.plan.cohort_id
        messages = record["request"]["messages"]
        if record["branch"]["variant_config"]["name"] == "mini":
            assert messages == original_b["request"]["messages"]  # the exact frozen context
            assert record["request"]["temperature"] == 0 and record["model"] == "gpt-4o-mini"
        else:
            assert messages[0] == {"role": "system", "content": "Be terse, ide."}
            assert messages[1:] == original_b["request"]["messages"][1:]
            assert record["request"]["temperature"] == 0.7  # inherited from the original
            assert "tools" not in record["request"]
    assert len({r["request_id"] for r in records}) == 6
    assert store.query("select count(*) from raw.quarantine")[0][0] == 0


def test_rerunning_a_manifest_does_only_what_is_missing(store: Store, server: OpenAIServer) -> None:
    load(store, conversation())
    run(store, manifest(server))
    calls = len(server.requests)
    enqueued, summary = run(store, manifest(server))
    assert enqueued.new_tasks == 0 and summary.done == 0 and len(server.requests) == calls
    bigger = manifest(server, nodes={"ids": ["n-a", "n-b", "n-c"]})
    enqueued, summary = run(store, bigger)
    assert enqueued.new_tasks == 3 + 6  # a new cohort: all of its tasks, n-c's among them
    assert len(replay_records(store)) == 6 + 9


def test_subtree_mode_regenerates_assistant_turns_in_order(
    store: Store, server: OpenAIServer
) -> None:
    load(store, conversation())
    raw = manifest(
        server,
        mode="subtree",
        nodes={"ids": ["n-a"]},
        variants=[{"name": "mini", "model": "gpt-4o-mini"}],
    )
    _, summary = run(store, raw)
    assert summary.done == 1
    records = {r["branch"]["replay_of_request_id"]: r for r in replay_records(store)}
    assert set(records) == {"n-a", "n-b", "n-c"}
    new_a = records["n-a"]
    assert new_a["parent_request_id"] == "n-root"
    new_reply = new_a["response"]["choices"][0]["message"]["content"]
    for child, follow_up in (("n-b", "Cheaper please."), ("n-c", "With kids.")):
        record = records[child]
        assert record["parent_request_id"] == new_a["request_id"]
        assert record["request"]["messages"] == [
            *new_a["request"]["messages"],
            {"role": "assistant", "content": new_reply},
            {"role": "user", "content": follow_up},
        ]


def test_a_task_that_keeps_failing_ends_failed_and_the_run_goes_on(
    store: Store, server: OpenAIServer
) -> None:
    load(store, conversation())
    raw = manifest(
        server,
        variants=[
            {"name": "ok", "model": "gpt-4o-mini"},
            {"name": "broken", "model": "fault:500"},
        ],
    )
    _, summary = run(store, raw)
    assert summary.done == 2 and summary.failed == 2
    assert all("HTTP 500" in error for _, error in summary.errors)
    assert job_counts(store) == {"done": 2, "failed": 2}
    rows = store.query("select attempts, last_error from runner.jobs where status = 'failed'")
    assert all(attempts == 3 and "HTTP 500" in error for attempts, error in rows)
    assert len(replay_records(store)) == 2  # no response is invented for a failure


def test_failed_tasks_are_retried_by_the_next_run(store: Store, server: OpenAIServer) -> None:
    load(store, conversation())
    server.state.default = "500"
    _, first = run(store, manifest(server))
    assert first.failed == 6
    server.state.default = "ok"
    _, second = run(store, manifest(server))
    assert second.done == 6 and job_counts(store) == {"done": 6}


def test_a_task_whose_records_were_stored_before_a_crash_is_not_called_again(
    store: Store, server: OpenAIServer
) -> None:
    load(store, conversation())
    run(store, manifest(server))
    # As if the process died after ingesting and before marking the tasks done (on
    # PostgreSQL: a worker whose lease has run out).
    store.execute(
        "update runner.jobs set status = 'claimed', worker_id = 'dead', lease_until = ?",
        [dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)],
    )
    calls = len(server.requests)
    _, summary = run(store, manifest(server))
    assert summary.skipped == 6 and len(server.requests) == calls
    assert job_counts(store) == {"done": 6} and len(replay_records(store)) == 6


def test_claims_another_worker_still_holds_are_finished_not_left_behind(
    store: Store, server: OpenAIServer
) -> None:
    load(store, conversation())
    run(store, manifest(server))
    # Two tasks held by another worker that died with its lease running for 1.5 s
    # more: PostgreSQL waits for the lease and takes them over; on DuckDB (one
    # process owns the file) a run recovers them at its start.
    store.execute(
        "update runner.jobs set status = 'claimed', worker_id = 'other', lease_until = ? "
        "where task_id in (select task_id from runner.jobs order by task_id limit 2)",
        [dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1.5)],
    )
    _, summary = run(store, manifest(server))
    assert summary.skipped == 2 and summary.remaining == 0
    assert job_counts(store) == {"done": 6}


def test_plan_counts_tasks_and_tokens_and_writes_or_sends_nothing(
    store: Store, server: OpenAIServer
) -> None:
    load(store, conversation())
    the_plan = plan(store, parse_manifest(manifest(server)))
    estimate = the_plan.estimate
    assert len(the_plan.tasks) == 6 and estimate.calls == 6
    assert the_plan.details["node_count"] == 2
    assert estimate.input_tokens > 0 and estimate.output_tokens == 6 * 10
    # no price model built in this warehouse: the cost is unknown, never zero
    assert estimate.cost_usd is None
    assert estimate.unpriced_models == ("gpt-4o", "gpt-4o-mini")
    assert (
        not store.query(
            "select 1 from information_schema.tables "
            "where table_schema = 'runner' and table_name = 'jobs'"
        )
        or job_counts(store) == {}
    )
    assert server.requests == []


def test_unknown_nodes_and_a_missing_mart_are_one_line_errors(
    store: Store, server: OpenAIServer
) -> None:
    with pytest.raises(TrellisError, match="conversation_branch_nodes does not exist"):
        plan(store, parse_manifest(manifest(server)))
    load(store, conversation())
    with pytest.raises(TrellisError, match="unknown node\\(s\\): n-zzz"):
        plan(store, parse_manifest(manifest(server, nodes={"ids": ["n-a", "n-zzz"]})))


def test_an_unreachable_endpoint_fails_before_any_task_is_claimed(store: Store) -> None:
    load(store, conversation())
    with running_server() as srv:
        dead = srv.base_url
    raw = {
        "nodes": {"ids": ["n-a"]},
        "variants": [{"model": "m"}],
        "endpoints": {"default": {"base_url": dead}},
    }
    with pytest.raises(TrellisError, match="is unreachable"):
        run(store, raw)
    assert job_counts(store) == {"pending": 1}


def test_filters_select_nodes_and_skip_earlier_replays(store: Store, server: OpenAIServer) -> None:
    load(store, conversation())
    raw = manifest(
        server,
        nodes={"where": {"agent_id": "ide", "leaves_only": True}},
        variants=[{"model": "gpt-4o-mini"}],
    )
    _, summary = run(store, raw)
    assert summary.done == 2  # the leaves n-b and n-c
    from tests.replay_world import build_mart

    build_mart(store)  # the replays are nodes now, but are not selected again
    the_plan = plan(
        store,
        parse_manifest(
            manifest(server, nodes={"where": {"agent_id": "ide"}}, variants=[{"model": "x"}])
        ),
    )
    assert the_plan.details["node_count"] == 4
    dated = manifest(
        server,
        nodes={
            "where": {"created_from": dt.date(2026, 1, 5), "created_to": dt.date(2026, 1, 5)},
            "limit": 1,
        },
    )
    assert plan(store, parse_manifest(dated)).details["node_count"] == 1


def test_stale_selects_the_topmost_node_of_an_old_snapshot_and_replays_its_subtree(
    store: Store, server: OpenAIServer
) -> None:
    records = conversation()
    records[1]["served_model"] = "gpt-4o-2024-05-13"  # n-a: old snapshot
    records[2]["served_model"] = "gpt-4o-2024-05-13"  # n-b below it: covered by n-a's subtree
    records[3]["metadata"] = {"taskification_rule_version": "v0"}
    load(
        store,
        [
            *records,
            request(
                "n-x",
                [{"role": "user", "content": "x"}],
                "y",
                minute=9,
                served_model="gpt-4o-2024-11-20",
            ),
        ],
    )
    versions = CurrentVersions({"gpt-4o": "gpt-4o-2024-11-20"}, "v1")
    raw = manifest(server, variants=[{"model": "gpt-4o"}])
    del raw["nodes"]
    the_plan = plan_replay(store, parse_manifest(raw, stale=True), versions=versions)
    steps = [s["replay_of"] for t in the_plan.tasks for s in t.payload["steps"]]
    assert [t.payload["steps"][0]["replay_of"] for t in the_plan.tasks] == ["n-a"]
    assert sorted(steps) == ["n-a", "n-b", "n-c"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"variants": [{"model": "m"}]}, "`nodes` must give `ids` or `where`"),
        ({"nodes": {"ids": ["a"]}, "variants": []}, "variants: Expected `array` of length >= 1"),
        ({"nodes": {"ids": ["a"]}, "variants": [{"model": "m"}], "mode": "tree"}, "mode: Invalid"),
        (
            {"nodes": {"where": {"colour": "red"}}, "variants": [{"model": "m"}]},
            "nodes.where: Object contains unknown field `colour`",
        ),
        (
            {"nodes": {"ids": ["a"]}, "variants": [{"model": "m", "sampling": {"n": 3}}]},
            "variants[0].sampling: Object contains unknown field `n`",
        ),
        (
            {"nodes": {"ids": ["a"]}, "variants": [{"model": "m", "system_prompt": "{{ x"}]},
            "system_prompt",
        ),
        (
            {
                "nodes": {"ids": ["a"]},
                "variants": [{"model": "m"}],
                "endpoints": {"m": {"base_url": "http://x", "api_key": "sk"}},
            },
            "environment",
        ),
        (
            {"nodes": {"ids": ["a"]}, "variants": [{"model": "m"}], "run": {"concurrency": 0}},
            "run.concurrency: Expected `int` >= 1",
        ),
    ],
)
def test_a_bad_manifest_is_a_one_line_error(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(TrellisError, match="bad manifest") as info:
        parse_manifest(raw, "m.yaml")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_cohort_id_ignores_how_the_work_is_run() -> None:
    base = {"nodes": {"ids": ["a"]}, "variants": [{"model": "m"}]}
    tuned = {**base, "run": {"concurrency": 64}, "endpoints": {"m": {"base_url": "http://h/v1"}}}
    assert parse_manifest(base).cohort_id == parse_manifest(tuned).cohort_id
    other = {**base, "variants": [{"model": "m", "samples": 2}]}
    assert parse_manifest(base).cohort_id != parse_manifest(other).cohort_id


def test_records_keep_no_api_key(
    store: Store, server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY_ENV", "sk-very-secret")
    load(store, many_roots(3))
    raw = manifest(
        server,
        nodes={"where": {"agent_id": "ide"}},
        endpoints={"default": {"base_url": server.base_url, "api_key_env": "SECRET_KEY_ENV"}},
    )
    run(store, raw)
    dumped = json.dumps(store.query("select record from raw.requests"), default=str)
    dumped += json.dumps(store.query("select payload from runner.jobs"), default=str)
    dumped += json.dumps(store.query("select manifest from runner.cohorts"), default=str)
    assert "sk-very-secret" not in dumped
