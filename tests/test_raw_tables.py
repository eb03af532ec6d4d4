"""The raw tables have one DDL, run by dbt (on-run-start) and by trellis alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dbt import run_dbt
from tests.test_ingest_helpers import request, write_jsonl
from trellis.ingest import ingest_files
from trellis.storage import open_store
from trellis.storage.upgrade import primary_key

Target = tuple[str, dict[str, str]]


@pytest.mark.slow
def test_dbt_build_works_on_an_empty_warehouse_and_ingest_then_appends_to_its_tables(
    target_env: Target, tmp_path: Path
) -> None:
    target, env = target_env
    built = run_dbt(["build"], env, target, tmp_path / "dbt", check=False)
    assert built.returncode == 0, built.stdout[-3000:]
    path = write_jsonl(tmp_path / "in.jsonl", [request("a")])
    with open_store(target) as store:  # type: ignore[arg-type]
        report = ingest_files(store, "requests", [path])
        staged = store.query("select count(*) from staging.stg_gateway__requests")

    assert report.loaded == 1
    assert staged == [(0,)]  # built before the ingest, from the empty raw table


#: raw.requests as warehouses created before request ids were scoped to their tenant.
OLD_REQUESTS_DDL = """
create table raw.requests (
    request_id varchar primary key,
    tenant_id varchar not null,
    created_at timestamptz not null,
    record_hash varchar not null,
    record {json_type} not null,
    source_file varchar,
    source_line bigint,
    ingested_at timestamptz not null
)
"""


def test_a_warehouse_keyed_by_request_id_alone_is_rekeyed_by_tenant_when_opened(
    target_env: Target, tmp_path: Path
) -> None:
    """Its rows stay; then another tenant's record with a stored id loads. On
    PostgreSQL the key is swapped in place: row-level security stays on."""
    target = target_env[0]
    stored = write_jsonl(tmp_path / "old.jsonl", [request("shared", tenant_id="acme")])
    with open_store(target) as store:  # type: ignore[arg-type]
        store.execute("drop table raw.requests")
        store.execute(OLD_REQUESTS_DDL.format(json_type=store.json_type))
        ingest_files(store, "requests", [stored])
        if target == "postgres":
            store.execute("alter table raw.requests enable row level security")
            store.execute("create policy old_policy on raw.requests for select using (true)")
        assert primary_key(store, "raw.requests") == ("request_id",)

    other = write_jsonl(tmp_path / "new.jsonl", [request("shared", tenant_id="globex")])
    with open_store(target) as store:  # type: ignore[arg-type]
        key = primary_key(store, "raw.requests")
        report = ingest_files(store, "requests", [other])
        rows = store.query("select tenant_id, source_file from raw.requests order by 1")
        if target == "postgres":
            secured = store.query(
                "select relrowsecurity,"
                " (select count(*) from pg_policy where polrelid = classes.oid)"
                " from pg_class as classes where classes.oid = 'raw.requests'::regclass"
            )
            assert secured == [(True, 1)]

    assert key == ("request_id", "tenant_id")
    assert (report.loaded, report.quarantined) == (1, {})
    assert rows == [("acme", str(stored)), ("globex", str(other))]
