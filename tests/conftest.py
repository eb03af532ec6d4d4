"""Shared fixtures: a real DuckDB file and a real PostgreSQL database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nats import provide_nats
from tests.support.postgres import Server, provide_server, temporary_database


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    with provide_server() as server:
        yield server


@pytest.fixture
def pg_env(pg_server: Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A fresh PostgreSQL database; PG* variables point at it for the test."""
    with temporary_database(pg_server) as dbname:
        env = pg_server.env(dbname)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        yield env


@pytest.fixture
def duckdb_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A fresh DuckDB file; TRELLIS_DUCKDB_PATH points at it for the test."""
    env = {"TRELLIS_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb")}
    monkeypatch.setenv("TRELLIS_DUCKDB_PATH", env["TRELLIS_DUCKDB_PATH"])
    return env


@pytest.fixture(params=["duckdb", "postgres"])
def target_env(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    """Run a test once per target: (target name, environment for it)."""
    if request.param == "duckdb":
        return "duckdb", request.getfixturevalue("duckdb_env")
    return "postgres", request.getfixturevalue("pg_env")


@pytest.fixture(scope="session")
def nats_url() -> Iterator[str]:
    """A NATS server with JetStream: $NATS_URL, else one started for the session."""
    with provide_nats() as url:
        yield url
