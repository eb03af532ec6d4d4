"""What a built warehouse leaves behind, on both targets: no export salt in
dbt's files, salted hashes that follow the salt, a DuckDB file that works
under another name, and a description for every column it holds.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support.warehouse import Warehouse, warehouse
from trellis_demo.generate import generate

pytestmark = pytest.mark.slow

# Printable, with a space and a quote: the salts users pick.
SALT = "pep per'9 salt-only-in-env"
OTHER_SALT = "another salt"


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("traffic")
    generate(out, 600, seed=5)
    return out


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(
    request: pytest.FixtureRequest, traffic: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    target = request.param
    server = request.getfixturevalue("pg_server") if target == "postgres" else None
    with warehouse(target, tmp_path_factory.mktemp(f"artifacts-{target}"), server) as wh:
        wh.ingest("requests", sorted((traffic / "requests").iterdir()))
        wh.ingest("feedback", sorted((traffic / "feedback").iterdir()))
        wh.env["DBT_ENV_SECRET_TRELLIS_EXPORT_SALT"] = SALT
        wh.dbt("build")
        yield wh


def _exported_and_plain(wh: Warehouse) -> list[tuple[str, str]]:
    return [
        (str(exported), str(plain))
        for exported, plain in wh.query(
            "select log.agent_id, requests.agent_id from agents.agent_request_log as log"
            " inner join staging.stg_gateway__requests as requests"
            " on log.request_id = requests.request_id"
        )
    ]


def test_the_export_salt_appears_nowhere_in_dbt_target_or_logs(built: Warehouse) -> None:
    dbt_dir = built.work / "dbt"
    files = [path for path in dbt_dir.rglob("*") if path.is_file()]
    assert any(path.name == "manifest.json" for path in files)
    assert any(path.name == "dbt.log" for path in files)
    leaking = [path for path in files if SALT.encode() in path.read_bytes()]
    assert leaking == []


def test_agent_ids_are_exported_as_md5_of_the_salt_and_follow_it(built: Warehouse) -> None:
    rows = _exported_and_plain(built)
    assert rows
    assert all(
        exported == hashlib.md5((SALT + plain).encode()).hexdigest() for exported, plain in rows
    )

    built.env["DBT_ENV_SECRET_TRELLIS_EXPORT_SALT"] = OTHER_SALT
    try:
        built.dbt("run", "--select", "agent_request_log")
        rows = _exported_and_plain(built)
        assert all(
            exported == hashlib.md5((OTHER_SALT + plain).encode()).hexdigest()
            for exported, plain in rows
        )
    finally:
        built.env["DBT_ENV_SECRET_TRELLIS_EXPORT_SALT"] = SALT
        built.dbt("run", "--select", "agent_request_log")


@pytest.mark.parametrize("built", ["duckdb"], indirect=True)
def test_a_copied_duckdb_warehouse_reads_every_relation(built: Warehouse, tmp_path: Path) -> None:
    copy = tmp_path / "renamed copy.duckdb"
    shutil.copyfile(built.env["TRELLIS_DUCKDB_PATH"], copy)
    with duckdb.connect(str(copy), read_only=True) as conn:
        relations = conn.sql(
            "select schema_name, table_name from duckdb_tables()"
            " where database_name = current_database()"
            " union all select schema_name, view_name from duckdb_views()"
            " where database_name = current_database() and not internal"
        ).fetchall()
        views = conn.sql(
            "select count(*) from duckdb_views() where database_name = current_database()"
            " and not internal"
        ).fetchall()[0][0]
        assert views > 0 and len(relations) > views
        for schema, name in relations:
            conn.sql(f'select count(*) from "{schema}"."{name}"').fetchall()


def _built_relations(wh: Warehouse) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(kind, schema, relation, manifest columns) of every model, seed and source."""
    manifest = json.loads((wh.work / "dbt" / "manifest.json").read_text())
    found = []
    for node in [*manifest["nodes"].values(), *manifest["sources"].values()]:
        if node["package_name"] != "trellis" or node["resource_type"] not in (
            "model",
            "seed",
            "source",
        ):
            continue
        relation = node["identifier"] if node["resource_type"] == "source" else node["alias"]
        found.append((node["resource_type"], node["schema"], relation, node["columns"]))
    return found


def _catalog_columns(wh: Warehouse, schema: str, relation: str) -> list[str]:
    rows = wh.query(
        "select column_name from information_schema.columns"
        " where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, relation],
    )
    return [str(name) for (name,) in rows]


def test_every_built_column_has_a_description(built: Warehouse) -> None:
    relations = _built_relations(built)
    assert len(relations) > 30
    undocumented = []
    for _, schema, relation, columns in relations:
        described = {
            name.lower() for name, column in columns.items() if column["description"].strip()
        }
        catalog = _catalog_columns(built, schema, relation)
        assert catalog, f"{schema}.{relation} was not built"
        undocumented += [f"{schema}.{relation}.{c}" for c in catalog if c.lower() not in described]
    assert undocumented == []


def test_descriptions_are_persisted_as_comments_for_bi_tools(built: Warehouse) -> None:
    if built.target == "duckdb":
        sql = (
            "select column_name from duckdb_columns() where schema_name = ? and table_name = ?"
            " and coalesce(comment, '') = ''"
        )
    else:
        sql = (
            "select attname from pg_attribute where attrelid = to_regclass(quote_ident(?) || '.'"
            " || quote_ident(?)) and attnum > 0 and not attisdropped"
            " and coalesce(col_description(attrelid, attnum), '') = ''"
        )
    models = [(s, r) for kind, s, r, _ in _built_relations(built) if kind != "source"]
    without_comment = [(s, r, built.query(sql, [s, r])) for s, r in models]
    assert [entry for entry in without_comment if entry[2]] == []
