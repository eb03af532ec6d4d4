"""The dataset marts on demo traffic: stratification, consent, de-identification, freeze and export.

One warehouse per module (generate, ingest, dbt build of +tag:datasets with
small K so that strata are cut), checked against independent Python
computations from the intermediate scores and the policy seed.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.dbt import PROJECT_DIR, run_dbt
from trellis.datasets import deid
from trellis.datasets.openai_format import chat_problems
from trellis.ingest import ingest_files
from trellis.storage import open_store
from trellis_demo.generate import generate

pytestmark = pytest.mark.slow

TRELLIS = str(Path(sys.executable).with_name("trellis"))
K_POSITIVE, K_NEGATIVE, MIN_SCORE, MIN_EVIDENCE = 2, 1, 7, 1
VARS = json.dumps({"dataset_positive_k": K_POSITIVE, "dataset_negative_k": K_NEGATIVE})
DATASETS = (
    "sft_messages_dataset",
    "dpo_preference_dataset",
    "suppression_dataset",
    "unlearning_dataset",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    work = tmp_path_factory.mktemp("datasets")
    env = {
        "TRELLIS_DUCKDB_PATH": str(work / "warehouse.duckdb"),
        "TRELLIS_FROZEN_DIR": str(work / "frozen"),
        "WORK": str(work),
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        generate(work / "traffic", requests=400, seed=5, tenants=3)
        with open_store("duckdb") as store:
            ingest_files(store, "requests", sorted((work / "traffic" / "requests").iterdir()))
            ingest_files(store, "feedback", sorted((work / "traffic" / "feedback").iterdir()))
        run_dbt(["build", "--select", "+tag:datasets", "--vars", VARS], env, "duckdb", work / "dbt")
        yield env


def _rows(env: dict[str, str], sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(env["TRELLIS_DUCKDB_PATH"], read_only=True) as con:
        cursor = con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _policies() -> dict[str, dict[str, str]]:
    with (PROJECT_DIR / "seeds" / "tenant_data_policies.csv").open() as handle:
        return {row["tenant_id"]: row for row in csv.DictReader(handle)}


def _scopes(tenant: str, policies: dict[str, dict[str, str]]) -> list[str]:
    policy = policies.get(tenant)
    if policy is None:
        return []
    scopes = []
    if policy["allow_global_training"] == "true":
        scopes.append("global")
    if policy["allow_tenant_training"] == "true":
        scopes.append(tenant)
    return scopes


def test_positives_are_the_top_k_of_each_stratum(built: dict[str, str]) -> None:
    scored = _rows(built, "select * from intermediate.int_trajectories_scored")
    policies = _policies()
    strata: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in scored:
        if row["quality_score"] is None or row["quality_score"] < MIN_SCORE:
            continue
        if row["evidence_count"] < MIN_EVIDENCE:
            continue
        for scope in _scopes(row["tenant_id"], policies):
            strata[(scope, row["agent_id"], row["task_cluster_id"])].append(row)
    expected = set()
    for (scope, _, _), members in strata.items():
        members.sort(key=lambda r: (-r["quality_score"], -r["evidence_count"], r["trajectory_id"]))
        expected |= {(scope, r["trajectory_id"]) for r in members[:K_POSITIVE]}
    actual = {
        (r["tenant_scope"], r["trajectory_id"])
        for r in _rows(built, "select * from datasets.positive_topk_trajectories")
    }
    assert actual == expected
    assert any(len(m) > K_POSITIVE for m in strata.values()), "no stratum was cut: K untested"


def test_negatives_are_the_bottom_k_of_each_stratum_and_type(built: dict[str, str]) -> None:
    typed = _rows(built, "select * from intermediate.int_trajectories_negative_typed")
    policies = _policies()
    strata: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in typed:
        objective = row["negative_type"] in ("suppression_candidate", "noise_reject")
        if not objective and row["evidence_count"] < MIN_EVIDENCE:
            continue
        for scope in _scopes(row["tenant_id"], policies):
            key = (scope, row["agent_id"], row["task_cluster_id"], row["negative_type"])
            strata[key].append(row)
    expected = set()
    for key, members in strata.items():
        members.sort(key=lambda r: (r["quality_score"] or 0.0, r["trajectory_id"]))
        expected |= {(key[0], r["trajectory_id"], key[3]) for r in members[:K_NEGATIVE]}
    actual = {
        (r["tenant_scope"], r["trajectory_id"], r["negative_type"])
        for r in _rows(built, "select * from datasets.negative_bottomk_trajectories")
    }
    assert actual == expected
    assert any(len(m) > K_NEGATIVE for m in strata.values()), "no stratum was cut: K untested"
    assert {t for _, _, t in actual} >= {"noise_reject", "hard_negative"}


def test_no_dataset_row_breaks_a_tenant_policy(built: dict[str, str]) -> None:
    policies = _policies()
    for dataset in DATASETS:
        rows = _rows(built, f"select tenant_scope, provenance from datasets.{dataset}")
        assert rows, dataset
        for row in rows:
            tenant = json.loads(row["provenance"])["tenant_id"]
            assert row["tenant_scope"] in _scopes(tenant, policies), (dataset, row)
    # the demo has tenants on both sides of allow_global_training
    globals_ = {t for t, p in policies.items() if p["allow_global_training"] == "true"}
    tenants_in_global = {
        json.loads(r["provenance"])["tenant_id"]
        for r in _rows(
            built,
            "select provenance from datasets.sft_messages_dataset where tenant_scope = 'global'",
        )
    }
    assert tenants_in_global and tenants_in_global <= globals_


def test_examples_are_de_identified_openai_conversations_with_provenance(
    built: dict[str, str],
) -> None:
    for row in _rows(built, "select * from datasets.sft_messages_dataset"):
        messages = json.loads(row["messages"])
        assert chat_problems(messages) == [], row["example_id"]
        for message in messages:
            assert not deid.find(message.get("content") or "")
        provenance = json.loads(row["provenance"])
        assert provenance["trajectory_id"] == row["trajectory_id"]
        assert provenance["source_request_ids"] and provenance["feedback_ids"]
    for row in _rows(built, "select * from datasets.dpo_preference_dataset"):
        assert json.loads(row["chosen"])[0]["role"] == "assistant"
        assert json.loads(row["rejected"])[0]["role"] == "assistant"
        assert row["chosen_node_id"] in json.loads(row["provenance"])["source_request_ids"]


def test_a_frozen_sft_set_exports_for_openai_and_trl(built: dict[str, str]) -> None:
    env = {**os.environ, **built}
    frozen = subprocess.run(
        [TRELLIS, "freeze", "sft_messages_dataset"], env=env, capture_output=True, text=True
    )
    assert frozen.returncode == 0, frozen.stderr
    out = Path(built["WORK"]) / "sft.openai.jsonl"
    exported = subprocess.run(
        [TRELLIS, "export", "sft_messages_dataset", str(out), "--format", "openai"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert exported.returncode == 0, exported.stderr
    count = len(_rows(built, "select example_id from datasets.sft_messages_dataset"))
    written = out.read_text().splitlines()
    assert len(written) == count and "rejected" not in exported.stdout
    registry = _rows(built, "select * from raw.dataset_snapshots")
    assert registry[0]["policy_version"] and json.loads(registry[0]["policy_version"])


def test_erasing_a_tenant_then_rebuilding_leaves_nothing_of_it_in_any_dataset(
    built: dict[str, str],
) -> None:
    """Runs last: it erases a tenant from the module's warehouse."""
    erased = "acme"
    before = _rows(
        built,
        "select count(*) as n from datasets.sft_messages_dataset"
        f' where provenance like \'%"tenant_id":"{erased}"%\'',
    )[0]["n"]
    assert before > 0
    env = {**os.environ, **built}
    args = [TRELLIS, "erase", "--tenant", erased, "--no-rebuild"]
    result = subprocess.run(args, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "frozen snapshot sft_messages_dataset-" in result.stdout
    # The rebuild `trellis erase` runs by default, for the dataset marts and what they stand on.
    work = Path(built["WORK"])
    run_dbt(
        ["build", "--full-refresh", "--select", "+tag:datasets", "--vars", VARS],
        built,
        "duckdb",
        work / "dbt",
    )
    for dataset in DATASETS:
        tenants = {
            json.loads(r["provenance"])["tenant_id"]
            for r in _rows(built, f"select provenance from datasets.{dataset}")
        }
        assert erased not in tenants, dataset
    for table in ("evaluation.trajectory_embeddings", "datasets.positive_topk_trajectories"):
        assert not _rows(built, f"select 1 from {table} where tenant_id = '{erased}'"), table
    registry = _rows(built, "select * from datasets.dataset_snapshot_registry")
    assert [r["holds_erased_examples"] for r in registry] == [True]
