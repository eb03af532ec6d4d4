"""Retention and erasure: raw facts go, derived rows follow, frozen snapshots are flagged."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from tests.support.dbt import run_dbt
from tests.test_ingest_helpers import feedback, request, write_jsonl
from trellis.datasets import retention
from trellis.ingest import ingest_files
from trellis.storage import open_store
from trellis_demo.generate import generate

TRELLIS = str(Path(sys.executable).with_name("trellis"))
ERASED = "globex"


def _trellis(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRELLIS, *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {
        "TRELLIS_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "TRELLIS_FROZEN_DIR": str(tmp_path / "frozen"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    traffic = tmp_path / "traffic"
    generate(traffic, requests=300, seed=5, tenants=3, malformed=False)
    with open_store("duckdb") as store:
        ingest_files(store, "requests", sorted((traffic / "requests").iterdir()))
        ingest_files(store, "feedback", sorted((traffic / "feedback").iterdir()))
    return values


def _count(env: dict[str, str], sql: str) -> int:
    with duckdb.connect(env["TRELLIS_DUCKDB_PATH"], read_only=True) as con:
        return int(con.execute(sql).fetchone()[0])  # type: ignore[index]


@pytest.mark.slow
def test_erasing_a_tenant_leaves_nothing_of_it_after_the_rebuild_and_flags_frozen_snapshots(
    env: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "dbt"
    run_dbt(["build", "--select", "tag:lineage"], env, "duckdb", target)
    # A frozen dataset with examples of every tenant (provenance names the requests).
    with duckdb.connect(env["TRELLIS_DUCKDB_PATH"]) as con:
        con.execute("create schema if not exists datasets")
        con.execute(
            "create table datasets.examples as select request_id as example_id,"
            " tenant_id as tenant_scope, to_json({'source_request_ids': [request_id]})::varchar"
            " as provenance from raw.requests"
        )
        erased_examples = con.execute(
            "select count(*) from raw.requests where tenant_id = ?", [ERASED]
        ).fetchone()[0]  # type: ignore[index]
    assert erased_examples > 0
    assert _trellis(["freeze", "examples"], env).returncode == 0

    erased = _trellis(["erase", "--tenant", ERASED, "--no-rebuild"], env)
    assert erased.returncode == 0, erased.stderr
    assert f"removed {erased_examples} requests" in erased.stdout
    assert f"holds {erased_examples} examples" in erased.stdout
    assert _count(env, f"select count(*) from raw.requests where tenant_id = '{ERASED}'") == 0

    # An incremental build keeps the erased tenant's lineage: the test says so.
    stale = run_dbt(["build", "--select", "tag:lineage"], env, "duckdb", target, check=False)
    assert stale.returncode != 0
    assert "assert_lineage_rows_have_raw_facts" in stale.stdout
    # The rebuild the erase command runs by default removes it.
    run_dbt(["build", "--full-refresh", "--select", "tag:lineage"], env, "duckdb", target)
    for table in ("lineage.conversation_branch_nodes", "lineage.trajectory_units"):
        assert _count(env, f"select count(*) from {table} where tenant_id = '{ERASED}'") == 0
        assert _count(env, f"select count(*) from {table}") > 0

    run_dbt(["build", "--select", "+dataset_snapshot_registry"], env, "duckdb", target)
    with duckdb.connect(env["TRELLIS_DUCKDB_PATH"], read_only=True) as con:
        registry = con.execute(
            "select holds_erased_examples, erased_examples, erasure_count"
            " from datasets.dataset_snapshot_registry"
        ).fetchall()
        request = con.execute(
            "select erasure_kind, tenant_id, requests_removed from raw.erasure_requests"
        ).fetchall()
    assert registry == [(True, erased_examples, 1)]
    assert request == [("erase_tenant", ERASED, erased_examples)]


def test_purge_removes_exactly_what_each_tenant_policy_allows_and_dry_run_removes_nothing(
    env: dict[str, str],
) -> None:
    policies = retention.load_policies()
    unlisted = retention.unlisted_retention_days()
    with open_store("duckdb") as store:
        rows = store.query("select tenant_id, created_at from raw.requests")
        feedback_before = store.query("select count(*) from raw.feedback")[0][0]
    newest = max(created for _, created in rows)
    # A moment that puts the demo traffic across several tenants' retention limits.
    now = newest + timedelta(days=60)
    expected: Counter[str] = Counter()
    for tenant, created in rows:
        days = policies[tenant].retention_days if tenant in policies else unlisted
        if created < now - timedelta(days=days):
            expected[tenant] += 1
    assert expected and sum(expected.values()) < len(rows)

    dry = retention.purge("duckdb", dry_run=True, now=now)
    assert dry.requests == dict(expected)
    assert _count(env, "select count(*) from raw.requests") == len(rows)

    done = retention.purge("duckdb", dry_run=False, now=now)
    assert done.requests == dict(expected)
    assert _count(env, "select count(*) from raw.requests") == len(rows) - sum(expected.values())
    assert _count(env, "select count(*) from raw.feedback") == feedback_before - done.feedback
    assert (
        _count(
            env,
            "select count(*) from raw.feedback where request_id not in"
            " (select request_id from raw.requests)",
        )
        == 0
    )
    assert (
        _count(env, "select count(*) from raw.erasure_requests where erasure_kind = 'purge'") == 1
    )


def test_erase_asks_for_exactly_one_of_tenant_or_request(env: dict[str, str]) -> None:
    for args in (["erase"], ["erase", "--tenant", "a", "--request-id", "b"]):
        result = _trellis(args, env)
        assert result.returncode == 2
        assert (
            result.stderr.strip() == "trellis: error: give exactly one of --tenant or --request-id"
        )
    unknown = _trellis(["erase", "--request-id", "no-such-request"], env)
    assert unknown.returncode == 2
    assert "unknown request" in unknown.stderr


def test_erasing_a_request_takes_its_descendants_along(env: dict[str, str], tmp_path: Path) -> None:
    run_dbt(["build", "--select", "tag:lineage"], env, "duckdb", tmp_path / "dbt")
    with duckdb.connect(env["TRELLIS_DUCKDB_PATH"], read_only=True) as con:
        root, children = con.execute(
            "select parent_node_id, count(*) from lineage.conversation_branch_nodes"
            " where parent_node_id is not null group by 1 order by 2 desc, 1 limit 1"
        ).fetchone()  # type: ignore[misc]
        subtree = con.execute(
            "with recursive s(node_id) as (select ?::varchar union select n.node_id from"
            " lineage.conversation_branch_nodes n join s on n.parent_node_id = s.node_id)"
            " select count(*) from s",
            [root],
        ).fetchone()[0]  # type: ignore[index]
    assert subtree > children >= 1
    removal = retention.erase("duckdb", request_id=root)
    assert removal.total_requests == subtree
    assert _count(env, f"select count(*) from raw.requests where request_id = '{root}'") == 0


def test_erasing_a_tenant_keeps_another_tenants_request_and_feedback_with_the_same_id(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Request ids are unique per tenant: erasing globex leaves acme's `shared` and the
    feedback naming acme; erasing by an id both tenants use is refused."""
    requests = write_jsonl(
        tmp_path / "shared.jsonl",
        [request("shared", tenant_id="acme"), request("shared", tenant_id=ERASED)],
    )
    ratings = write_jsonl(
        tmp_path / "shared-feedback.jsonl",
        [
            feedback("fb-acme", request_id="shared", tenant_id="acme"),
            feedback("fb-erased", request_id="shared", tenant_id=ERASED),
        ],
    )
    with open_store("duckdb") as store:
        ingest_files(store, "requests", [requests])
        ingest_files(store, "feedback", [ratings])
    ambiguous = _trellis(["erase", "--request-id", "shared"], env)
    retention.erase("duckdb", tenant_id=ERASED)

    assert ambiguous.returncode == 2 and "used by 2 tenants" in ambiguous.stderr
    assert _count(env, "select count(*) from raw.requests where request_id = 'shared'") == 1
    kept = "select count(*) from raw.feedback where feedback_id = 'fb-acme'"
    assert _count(env, kept) == 1
    assert _count(env, "select count(*) from raw.feedback where feedback_id = 'fb-erased'") == 0
