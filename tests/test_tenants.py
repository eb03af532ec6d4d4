"""Tenant isolation on PostgreSQL: `trellis tenant grant/revoke` on a built
warehouse with several tenants, checked by reading as the granted role."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.support.warehouse import Warehouse, warehouse
from tests.test_ingest_helpers import request, write_jsonl
from trellis_demo.generate import generate

pytestmark = pytest.mark.slow

ACME_ROLE = "acme analyst"  # a space: identifiers must be quoted
GLOBEX_ROLE = "globex_bi"
SHARED_ID = "req-both-tenants"
SHARED = (("acme", "gpt-4o"), ("globex", "o3"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, pg_server: object) -> Iterator[Warehouse]:
    traffic = tmp_path_factory.mktemp("traffic")
    generate(traffic, 600, seed=11)
    with warehouse("postgres", tmp_path_factory.mktemp("tenants"), pg_server) as wh:  # type: ignore[arg-type]
        wh.ingest("requests", sorted((traffic / "requests").iterdir()))
        wh.ingest("feedback", sorted((traffic / "feedback").iterdir()))
        # one request id both tenants use, with other content each (ids are per tenant)
        shared = [request(SHARED_ID, tenant_id=tenant, model=model) for tenant, model in SHARED]
        wh.ingest("requests", [write_jsonl(traffic / "shared.jsonl", shared)])
        wh.dbt("build")
        yield wh
        with _connect(wh) as conn:  # roles belong to the cluster, not the test database
            for role in (ACME_ROLE, GLOBEX_ROLE):
                if conn.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone():
                    conn.execute(sql.SQL("drop owned by {} cascade").format(sql.Identifier(role)))
                    conn.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def _connect(wh: Warehouse) -> psycopg.Connection[tuple[object, ...]]:
    env = wh.env
    return psycopg.connect(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        dbname=env["PGDATABASE"],
        password=env.get("PGPASSWORD", ""),
        autocommit=True,
    )


def trellis(wh: Warehouse, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("trellis")), *args],
        env={**os.environ, **wh.env, "TRELLIS_TARGET": "postgres"},
        capture_output=True,
        text=True,
    )


def tenant_relations(wh: Warehouse) -> list[tuple[str, str]]:
    """Every table and view holding a tenant_id, from the catalog."""
    rows = wh.query(
        "select table_schema, table_name from information_schema.columns"
        " where column_name = 'tenant_id'"
        " and table_schema not in ('information_schema', 'pg_catalog', 'trellis_access')"
        " order by 1, 2"
    )
    return [(str(schema), str(name)) for schema, name in rows]


def tenants_seen_as(wh: Warehouse, role: str) -> dict[tuple[str, str], set[str]]:
    """The tenant ids each relation shows to `role`."""
    seen = {}
    with _connect(wh) as conn:
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        for schema, name in tenant_relations(wh):
            rows = conn.execute(
                sql.SQL("select distinct tenant_id from {}.{}").format(
                    sql.Identifier(schema), sql.Identifier(name)
                )
            ).fetchall()
            seen[(schema, name)] = {str(row[0]) for row in rows}
    return seen


def test_the_warehouse_has_several_tenants_in_every_layer(built: Warehouse) -> None:
    relations = tenant_relations(built)
    schemas = {schema for schema, _ in relations}
    assert {"raw", "staging", "intermediate", "lineage", "agents", "costs"} <= schemas
    tenants = {row[0] for row in built.query("select distinct tenant_id from raw.requests")}
    assert {"acme", "globex"} <= tenants


def test_a_granted_role_reads_only_its_tenant_from_every_relation(built: Warehouse) -> None:
    granted = trellis(built, "tenant", "grant", "acme", "--role", ACME_ROLE, "--target", "postgres")
    assert granted.returncode == 0, granted.stderr
    assert "created, NOLOGIN" in granted.stdout
    rolcanlogin = built.query("select rolcanlogin from pg_roles where rolname = ?", [ACME_ROLE])
    assert rolcanlogin == [(False,)]

    seen = tenants_seen_as(built, ACME_ROLE)
    assert all(tenants <= {"acme"} for tenants in seen.values()), seen
    for mart in [("raw", "requests"), ("staging", "stg_gateway__requests"),
                 ("lineage", "conversation_branch_nodes"), ("agents", "agent_request_log"),
                 ("costs", "daily_tenant_costs")]:  # fmt: skip
        assert seen[mart] == {"acme"}, mart


def test_a_role_granted_one_tenant_sees_only_its_row_of_a_request_id_both_use(
    built: Warehouse,
) -> None:
    trellis(built, "tenant", "grant", "acme", "--role", ACME_ROLE, "--target", "postgres")
    with _connect(built) as conn:
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(ACME_ROLE)))
        raw = conn.execute(
            "select tenant_id, record->>'model' from raw.requests where request_id = %s",
            [SHARED_ID],
        ).fetchall()
        nodes = conn.execute(
            "select tenant_id, model from lineage.conversation_branch_nodes where node_id = %s",
            [SHARED_ID],
        ).fetchall()
    both = built.query(
        "select tenant_id from lineage.conversation_branch_nodes where node_id = ? order by 1",
        [SHARED_ID],
    )

    assert raw == [("acme", "gpt-4o")]
    assert nodes == [("acme", "gpt-4o")]
    assert both == [("acme",), ("globex",)]


def test_a_granted_role_cannot_read_relations_without_a_tenant_or_other_grants(
    built: Warehouse,
) -> None:
    trellis(built, "tenant", "grant", "acme", "--role", ACME_ROLE, "--target", "postgres")
    with _connect(built) as conn:
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(ACME_ROLE)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from raw.quarantine")
    assert trellis(built, "tenant", "grant", "globex", "--role", GLOBEX_ROLE).returncode == 0
    with _connect(built) as conn:
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(ACME_ROLE)))
        grants = conn.execute("select role_name, tenant_id from trellis_access.tenant_grants")
        assert grants.fetchall() == [(ACME_ROLE, "acme")]
    seen = tenants_seen_as(built, GLOBEX_ROLE)
    assert all(tenants <= {"globex"} for tenants in seen.values())
    assert seen[("lineage", "trajectory_units")] == {"globex"}


def test_isolation_survives_a_rebuild_of_the_marts(built: Warehouse) -> None:
    trellis(built, "tenant", "grant", "acme", "--role", ACME_ROLE, "--target", "postgres")
    built.dbt("run", "--select", "tag:costs", "tag:agents")
    seen = tenants_seen_as(built, ACME_ROLE)
    assert seen[("costs", "daily_tenant_costs")] == {"acme"}
    assert seen[("agents", "agent_request_log")] == {"acme"}
    assert all(tenants <= {"acme"} for tenants in seen.values())


def test_revoking_the_last_tenant_takes_every_read_back(built: Warehouse) -> None:
    trellis(built, "tenant", "grant", "acme", "--role", ACME_ROLE, "--target", "postgres")
    revoked = trellis(
        built, "tenant", "revoke", "acme", "--role", ACME_ROLE, "--target", "postgres"
    )
    assert revoked.returncode == 0, revoked.stderr
    assert "no tenant left" in revoked.stdout
    with _connect(built) as conn:
        conn.execute(sql.SQL("set role {}").format(sql.Identifier(ACME_ROLE)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select count(*) from lineage.conversation_branch_nodes")


def test_the_superuser_that_builds_still_sees_every_tenant(built: Warehouse) -> None:
    tenants = built.query("select count(distinct tenant_id) from lineage.conversation_branch_nodes")
    assert tenants[0][0] >= 2


def test_tenant_grant_on_duckdb_is_a_one_line_error(built: Warehouse) -> None:
    result = trellis(built, "tenant", "grant", "acme", "--role", "x", "--target", "duckdb")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--target postgres" in result.stderr
