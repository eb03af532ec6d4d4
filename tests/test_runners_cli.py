"""The runners' guard rails, through the `trellis` command and the kit's public functions.

Prices from the warehouse (the cost marts' rule), the plan and --max-cost
before anything is sent, keys checked before the first call, a task done
only when its record is stored, no streamed or forwarded transport
settings, the Jinja sandbox, scrubbed error bodies and manifest errors that
name the field and its line. A real server on 127.0.0.1, real DuckDB files
and PostgreSQL databases.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.openai_server import OpenAIServer, running_server
from tests.replay_world import build_mart, conversation, job_counts, load, replay_records
from trellis.config import TargetName
from trellis.errors import TrellisError
from trellis.runners.kit.db import table_exists
from trellis.runners.kit.prices import PriceBook
from trellis.runners.replay.manifest import parse_manifest
from trellis.runners.replay.service import plan, run_replay
from trellis.services.warehouse import run_dbt
from trellis.storage import Store, open_store

TRELLIS = str(Path(sys.executable).with_name("trellis"))
SECRET = "sk-test-0123456789abcdef"


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with running_server() as srv:
        yield srv


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRELLIS, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def manifest(server: OpenAIServer, **overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "nodes": {"ids": ["n-a", "n-b"]},
        "variants": [{"name": "mini", "model": "gpt-4o-mini", "sampling": {"max_tokens": 10}}],
        "endpoints": {"default": {"base_url": server.base_url}},
        "run": {"concurrency": 2, "max_attempts": 2, "timeout_s": 2, "backoff_base_s": 0.01},
    }
    raw.update(overrides)
    return raw


def write(tmp_path: Path, raw: dict[str, Any], name: str = "m.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def trajectory_stand_in(store: Store) -> None:
    """One row of lineage.trajectory_units (the columns judge reads): n-root, n-a, n-b."""
    store.execute(
        "create table lineage.trajectory_units (trajectory_id varchar, session_key varchar, "
        "tenant_id varchar, root_node_id varchar, leaf_node_id varchar, node_ids varchar)"
    )
    store.execute(
        "insert into lineage.trajectory_units values "
        "('t-1', 's1', 'acme', 'n-root', 'n-b', '[\"n-root\", \"n-a\", \"n-b\"]')"
    )


def seeded_store(target: TargetName) -> None:
    with open_store(target) as store:
        load(store, conversation())
        build_mart(store)


def test_plan_prices_are_the_cost_marts_prices_and_max_cost_refuses_before_sending(
    target_env: tuple[str, dict[str, str]], server: OpenAIServer, tmp_path: Path
) -> None:
    target: TargetName = target_env[0]  # type: ignore[assignment]
    seeded_store(target)
    run_dbt(["build", "--select", "+int_request_costs_priced"], target, echo=False)
    with open_store(target) as store:
        priced = store.query(
            "select billed_model, created_at, input_usd_per_million_tokens,"
            " output_usd_per_million_tokens from intermediate.int_request_costs_priced"
        )
        assert priced
        for model, created_at, input_rate, output_rate in priced:
            rates = PriceBook(store, at=created_at.astimezone(dt.UTC)).rates(model)
            assert (rates.input, rates.output) == (input_rate, output_rate)
        # ^gpt-4o-mini is longer than ^gpt-4o: the mini's own prices, as the marts choose
        mini = PriceBook(store).rates("gpt-4o-mini")
        assert (mini.input, mini.output) == (0.15, 0.60)
        estimate = plan(store, parse_manifest(manifest(server))).estimate
    expected = (estimate.input_tokens * 0.15 + estimate.output_tokens * 0.60) / 1e6
    assert estimate.cost_usd == pytest.approx(expected, abs=1e-6) and estimate.cost_usd > 0

    path = write(tmp_path, manifest(server))
    planned = cli("replay", str(path), "--plan", "--target", target)
    assert planned.returncode == 0, planned.stderr
    assert f"estimated cost ${estimate.cost_usd:,.4f}" in planned.stdout
    refused = cli("replay", str(path), "--max-cost", "0.00000001", "--target", target)
    assert refused.returncode == 2
    assert "estimated cost" in refused.stdout  # the plan is printed first
    assert refused.stderr.strip().startswith("trellis: error: estimated cost $")
    assert "above --max-cost" in refused.stderr and server.requests == []
    with open_store(target) as store:  # nothing written ahead either
        assert not table_exists(store, "runner", "jobs") or job_counts(store) == {}
    allowed = cli("replay", str(path), "--max-cost", "5", "--target", target)
    assert allowed.returncode == 0, allowed.stderr
    assert "2 done, 0 failed" in allowed.stdout


def test_unknown_cost_under_max_cost_and_an_unset_key_stop_before_the_first_call(
    duckdb_env: dict[str, str], server: OpenAIServer, tmp_path: Path
) -> None:
    seeded_store("duckdb")
    path = write(tmp_path, manifest(server))
    unknown = cli("replay", str(path), "--max-cost", "5")
    assert unknown.returncode == 2 and "estimated cost unknown" in unknown.stdout
    assert "the cost cannot be estimated" in unknown.stderr
    keyed = manifest(
        server,
        endpoints={"default": {"base_url": server.base_url, "api_key_env": "TRELLIS_TEST_NO_KEY"}},
    )
    no_key = cli("replay", str(write(tmp_path, keyed)))
    assert no_key.returncode == 2
    assert no_key.stderr.strip() == (
        f"trellis: error: endpoint {server.base_url} needs an API key in "
        "$TRELLIS_TEST_NO_KEY, which is not set"
    )
    assert server.requests == []


def test_a_quarantined_reply_fails_its_task_and_the_next_run_stores_it(
    target_env: tuple[str, dict[str, str]], server: OpenAIServer
) -> None:
    target: TargetName = target_env[0]  # type: ignore[assignment]
    seeded_store(target)
    raw = manifest(server)
    server.script("nul", "negative_usage")
    with open_store(target) as store:
        first = run_replay(store, plan(store, parse_manifest(raw), raw)).summary
        assert (first.done, first.failed) == (0, 2)
        assert all("quarantined at ingest" in error for _, error in first.errors)
        assert replay_records(store) == []
        reasons = store.query("select distinct last_error from runner.jobs")
        assert all("raw.quarantine" in str(r[0]) for r in reasons)
        assert job_counts(store) == {"failed": 2}
        second = run_replay(store, plan(store, parse_manifest(raw), raw)).summary
        assert (second.done, second.failed) == (2, 0)
        assert len(replay_records(store)) == 2 and job_counts(store) == {"done": 2}


def test_a_quarantined_judge_score_fails_its_task_too(
    duckdb_env: dict[str, str], server: OpenAIServer, tmp_path: Path
) -> None:
    seeded_store("duckdb")
    with open_store("duckdb") as store:
        trajectory_stand_in(store)
    template = {
        "id": "t",
        "version": 1,
        "parser": "last_line_score",
        "messages": [{"role": "user", "content": "{{ final_reply }} SCORE?"}],
    }
    write(tmp_path, template, "template.yaml")
    raw = {
        "targets": {"kind": "trajectory"},
        "templates": ["template.yaml"],
        "judges": [{"model": "gpt-4o"}],
        "endpoints": {"default": {"base_url": server.base_url}},
        "run": {"max_attempts": 1},
    }
    path = write(tmp_path, raw, "judge.yaml")
    server.script("nul")
    failed = cli("judge", str(path))
    assert failed.returncode == 1 and "0 done, 1 failed" in failed.stdout
    assert "quarantined at ingest" in failed.stdout
    with open_store("duckdb") as store:
        assert store.query("select count(*) from raw.feedback")[0][0] == 0
    retried = cli("judge", str(path))
    assert retried.returncode == 0 and "1 done, 0 failed" in retried.stdout


def test_stream_and_its_options_are_not_forwarded(
    duckdb_env: dict[str, str], server: OpenAIServer
) -> None:
    records = conversation()
    for record in records:
        record["request"]["stream"] = True
        record["request"]["stream_options"] = {"include_usage": True}
    with open_store("duckdb") as store:
        load(store, records)
        build_mart(store)
        raw = manifest(server)
        summary = run_replay(store, plan(store, parse_manifest(raw), raw)).summary
        assert summary.done == 2
        stored = replay_records(store)
    assert [r["stream"] for r in server.requests] == [False, False]
    assert all("stream_options" not in r for r in server.requests)
    assert all(r["request"]["stream"] is False for r in stored)


ESCAPES = [
    "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
]


@pytest.mark.parametrize("escape", ESCAPES)
def test_a_template_that_reaches_for_os_fails_in_one_line_even_under_plan(
    duckdb_env: dict[str, str], server: OpenAIServer, tmp_path: Path, escape: str
) -> None:
    seeded_store("duckdb")
    raw = manifest(server, variants=[{"model": "gpt-4o-mini", "system_prompt": escape}])
    replayed = subprocess.run(
        [TRELLIS, "replay", str(write(tmp_path, raw)), "--plan"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert replayed.returncode == 2 and "Traceback" not in replayed.stderr
    assert replayed.stderr.count("\n") == 1
    assert "unsafe template refused by the sandbox" in replayed.stderr
    assert not (tmp_path / "PWNED").exists()

    template = {
        "id": "t",
        "version": 1,
        "parser": "last_line_score",
        "target": "trajectory",
        "messages": [{"role": "user", "content": escape}],
    }
    write(tmp_path, template, "template.yaml")
    judge_manifest = {
        "targets": {"kind": "trajectory"},
        "templates": ["template.yaml"],
        "judges": [{"model": "gpt-4o"}],
        "endpoints": {"default": {"base_url": server.base_url}},
    }
    with open_store("duckdb") as store:
        trajectory_stand_in(store)
    judged = subprocess.run(
        [TRELLIS, "judge", str(write(tmp_path, judge_manifest, "judge.yaml")), "--plan"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert judged.returncode == 2 and judged.stderr.count("\n") == 1
    assert "unsafe template refused by the sandbox" in judged.stderr
    assert not (tmp_path / "PWNED").exists() and server.requests == []


def test_an_error_body_echoing_the_key_is_scrubbed_from_output_and_job_log(
    duckdb_env: dict[str, str], server: OpenAIServer, tmp_path: Path
) -> None:
    seeded_store("duckdb")
    raw = manifest(
        server,
        variants=[{"model": "fault:echo_auth"}],
        endpoints={"default": {"base_url": server.base_url, "api_key_env": "TRELLIS_TEST_KEY"}},
    )
    ran = cli("replay", str(write(tmp_path, raw)), env={"TRELLIS_TEST_KEY": SECRET})
    assert ran.returncode == 1 and "2 failed" in ran.stdout
    assert server.state.headers[0]["authorization"] == f"Bearer {SECRET}"  # the echo is real
    assert "[redacted]" in ran.stdout
    assert SECRET not in ran.stdout + ran.stderr
    with open_store("duckdb") as store:
        errors = [str(r[0]) for r in store.query("select last_error from runner.jobs")]
    assert len(errors) == 2 and all("HTTP 400" in e and SECRET not in e for e in errors)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "variants:\n  - model: m\n    samples: two\nnodes: {ids: [n-a]}\n",
            "line 3: variants[0].samples: Expected `int`, got `str`",
        ),
        (
            "nodes:\n  ids: [n-a]\nvariants:\n  - model: m\n    sampling:\n"
            "      temperature: 0\n      n: 3\n",
            "line 6: variants[0].sampling: Object contains unknown field `n`",
        ),
        ("mode: tree\nvariants: [{model: m}]\nnodes: {ids: [n-a]}\n", "line 1: mode: Invalid"),
        ("variants: [{model: m}\nnodes: {ids: [a]}\n", "line 2: "),
        ("- just\n- a list\n", "must be a mapping of fields"),
    ],
)
def test_a_bad_manifest_names_the_field_and_its_line(
    duckdb_env: dict[str, str], tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    result = cli("replay", str(path), "--plan")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_binary_manifest_is_a_one_line_error(duckdb_env: dict[str, str], tmp_path: Path) -> None:
    for name, data in (("bin.yaml", b"\x00\x01\x02PK\x03\x04"), ("latin.yaml", b"caf\xe9: 1\n")):
        path = tmp_path / name
        path.write_bytes(data)
        for command in ("replay", "judge"):
            result = cli(command, str(path), "--plan")
            assert result.returncode == 2 and result.stderr.count("\n") == 1
            assert str(path) in result.stderr and "Traceback" not in result.stderr


def test_a_library_caller_gets_the_same_field_errors() -> None:
    with pytest.raises(TrellisError, match=r"variants\[0\]\.tools: Expected"):
        parse_manifest({"nodes": {"ids": ["a"]}, "variants": [{"model": "m", "tools": 3}]})
