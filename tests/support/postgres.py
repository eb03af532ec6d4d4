"""A real PostgreSQL for the suite.

Order of preference: the server the PG* variables point at; else a throwaway
cluster (initdb into a temporary folder, a free port, removed afterwards) when
the server binaries are installed; else a clear failure saying how to provide
one. Each test run creates its own databases and drops them afterwards.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    password: str

    def env(self, dbname: str) -> dict[str, str]:
        return {
            "PGHOST": self.host,
            "PGPORT": str(self.port),
            "PGUSER": self.user,
            "PGPASSWORD": self.password,
            "PGDATABASE": dbname,
        }

    def conninfo(self, dbname: str = "postgres") -> str:
        info = f"host={self.host} port={self.port} user={self.user} dbname={dbname}"
        return info + (f" password={self.password}" if self.password else "")


def _answers(server: Server) -> bool:
    try:
        with psycopg.connect(server.conninfo(), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _server_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _throwaway_cluster(initdb: str, pg_ctl: str) -> Iterator[Server]:
    folder = Path(tempfile.mkdtemp(prefix="trellis-pg-"))
    data = folder / "data"
    port = _free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, user="postgres")
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *as_user,
            pg_ctl,
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(folder / "log"),
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        server = Server("127.0.0.1", port, "postgres", "")
        deadline = time.monotonic() + 30
        while not _answers(server):
            if time.monotonic() > deadline:
                raise RuntimeError("throwaway PostgreSQL did not start")
            time.sleep(0.2)
        yield server
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], check=False)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def provide_server() -> Iterator[Server]:
    configured = Server(
        os.environ.get("PGHOST", "127.0.0.1"),
        int(os.environ.get("PGPORT", "5432")),
        os.environ.get("PGUSER", "postgres"),
        os.environ.get("PGPASSWORD", ""),
    )
    if _answers(configured):
        yield configured
        return
    initdb, pg_ctl = _server_bin("initdb"), _server_bin("pg_ctl")
    if initdb and pg_ctl:
        with _throwaway_cluster(initdb, pg_ctl) as server:
            yield server
        return
    raise RuntimeError(
        "The test suite needs PostgreSQL: set PGHOST/PGPORT/PGUSER/PGPASSWORD to a server "
        "that accepts `createdb`, or install the PostgreSQL server binaries (initdb, pg_ctl) "
        "so the suite can start a throwaway cluster."
    )


@contextlib.contextmanager
def temporary_database(server: Server, prefix: str = "trellis_test") -> Iterator[str]:
    """Create a uniquely named database and drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
