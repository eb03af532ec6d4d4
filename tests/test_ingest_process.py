"""Large inputs are screened in a child process (trellis.services.screen_worker): same outcome."""

from __future__ import annotations

import gzip
import os
import random
import resource
import time
from pathlib import Path
from typing import Any

import pytest

from tests.test_ingest import REQUEST_BREACHES, TRICKY_TEXT, _messages
from tests.test_ingest_helpers import in_fresh_python, request, write_jsonl
from trellis.errors import TrellisError
from trellis.services import ingest as ingest_module
from trellis.services import line_chunks
from trellis.services.ingest import IngestReport, ingest_files
from trellis.services.line_chunks import TextPosition
from trellis.services.screen_worker import CHILD_NICE, ScreeningProcess, screened_in_process
from trellis.storage import open_store
from trellis_demo.generate import generate

_TABLES = {
    "requests": "request_id, tenant_id, created_at, record_hash, record::varchar, source_file, "
    "source_line",
    "quarantine": "quarantine_id, record_kind, source_file, source_line, reason, detail, "
    "record_id, raw_text",
}


def _ingested(
    folder: Path, paths: list[Path], threshold: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[IngestReport, dict[str, list[tuple[Any, ...]]]]:
    monkeypatch.setattr(ingest_module, "PROCESS_MIN_BYTES", threshold)
    monkeypatch.setenv("TRELLIS_DUCKDB_PATH", str(folder / "warehouse.duckdb"))
    with open_store("duckdb") as store:
        report = ingest_files(store, "requests", paths)
        rows = {
            table: sorted(store.query(f"select {columns} from raw.{table}"))
            for table, columns in _TABLES.items()
        }
    return report, rows


def test_the_screening_process_loads_what_the_thread_path_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(tmp_path / "demo", 1500, seed=11)
    lines = [request("ok-1", request=_messages(TRICKY_TEXT)), *(b for b, _, _ in REQUEST_BREACHES)]
    paths = [
        *sorted((tmp_path / "demo" / "requests").iterdir()),
        write_jsonl(tmp_path / "breaches.jsonl", lines),
    ]
    (tmp_path / "threads").mkdir()
    (tmp_path / "process").mkdir()

    by_threads = _ingested(tmp_path / "threads", paths, 1 << 62, monkeypatch)
    by_process = _ingested(tmp_path / "process", paths, 0, monkeypatch)

    assert by_process[0].loaded > 1500 and by_process[0].total_quarantined > len(lines) - 1
    assert vars(by_process[0]) == vars(by_threads[0])
    assert by_process[1] == by_threads[1]


@pytest.mark.parametrize("ready_after", [0, 2, 9, None])
def test_the_parent_screens_the_first_chunks_and_the_child_reads_on_from_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ready_after: int | None
) -> None:
    """Whichever chunk the child takes over at (in a plain file, in a gzip file, or never:
    the parent read everything), the outcome is the thread path's."""
    monkeypatch.setattr(line_chunks, "CHUNK_BYTES", 256 * 1024)
    generate(tmp_path / "demo", 1500, seed=12)
    paths = sorted((tmp_path / "demo" / "requests").iterdir())
    asked: list[None] = []

    def ready(_: ScreeningProcess) -> bool:  # the child's real readiness, replaced
        asked.append(None)
        return ready_after is not None and len(asked) > ready_after

    (tmp_path / "threads").mkdir()
    (tmp_path / "process").mkdir()
    by_threads = _ingested(tmp_path / "threads", paths, 1 << 62, monkeypatch)
    monkeypatch.setattr(ScreeningProcess, "ready", ready)
    taken = []
    screened = ScreeningProcess.screened

    def taking_over(self: ScreeningProcess, file: int, start: TextPosition) -> Any:
        taken.append((file, start.line))
        return screened(self, file, start)

    monkeypatch.setattr(ScreeningProcess, "screened", taking_over)
    by_process = _ingested(tmp_path / "process", paths, 0, monkeypatch)

    assert vars(by_process[0]) == vars(by_threads[0])
    assert by_process[1] == by_threads[1]
    # where the child took over: file 0 from its start; after 2 chunks of it; inside the
    # second file (gzip); past the last file (the parent read everything)
    [(file, line)] = taken
    if ready_after is None:
        assert (file, line) == (len(paths), 1)
    elif ready_after == 0:
        assert (file, line) == (0, 1)
    else:
        assert file == (0 if ready_after == 2 else 1) and line > 1
        assert paths[1].name.endswith(".gz")


def test_the_screening_process_works_beside_more_than_1024_open_files(
    duckdb_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A library caller may hold many files: the pipe's descriptor is then past select()'s
    reach (1023), which the readiness check must not care about."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard >= 1200, "this test needs a descriptor limit of 1200 or more"
    monkeypatch.setattr(ingest_module, "PROCESS_MIN_BYTES", 0)
    path = write_jsonl(tmp_path / "in.jsonl", [request(f"r-{i}") for i in range(50)])
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        with open_store("duckdb") as store:
            report = ingest_files(store, "requests", [path])
    finally:
        for descriptor in held:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert report.loaded == 50


def test_a_damaged_file_in_the_screening_process_is_a_one_line_error(
    duckdb_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "PROCESS_MIN_BYTES", 0)
    rng = random.Random(2)
    text = "\n".join(
        f'{{"request_id": "r-{i}", "pad": "{rng.randbytes(60).hex()}"}}' for i in range(3000)
    )
    data = gzip.compress(text.encode())
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(data[: len(data) // 2])

    with open_store("duckdb") as store, pytest.raises(TrellisError) as raised:
        ingest_files(store, "requests", [broken])

    assert str(raised.value).startswith(f"cannot read {broken}: ")
    assert "\n" not in str(raised.value)


def test_a_screening_process_that_dies_is_a_one_line_error(
    duckdb_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "PROCESS_MIN_BYTES", 0)
    dying = tmp_path / "dying-python"
    dying.write_text("#!/bin/sh\necho 'Killed: out of memory' >&2\nexit 137\n")
    dying.chmod(0o755)
    monkeypatch.setattr("sys.executable", str(dying))
    path = write_jsonl(tmp_path / "in.jsonl", [request("r-1")])

    with open_store("duckdb") as store:
        with pytest.raises(TrellisError) as raised:
            ingest_files(store, "requests", [path])
        stored = store.query("select count(*) from raw.requests")

    assert stored == [(0,)]
    assert str(raised.value) == (
        "the screening process stopped unexpectedly (exit code 137): Killed: out of memory"
    )


@pytest.mark.parametrize(
    ("says", "error"),
    [
        (
            "echo 'Traceback? no: some library printed this'",
            "the screening process sent an unreadable message: 'Traceback? no: some library",
        ),
        ("echo '[1, 2]'", "the screening process sent an unreadable message: '[1, 2]'"),
        (
            """echo '{"ready": true}'; read start; """
            """echo '{"source": "s", "lines": 1, "cleared": "/nonexistent/0.arrow", """
            """"decided": null}'""",
            "a chunk of the screening process cannot be read: ",
        ),
        (
            """echo '{"ready": true}'; read start; echo '{"source": "s", "lines": 1}'""",
            "the screening process sent a chunk without 'decided'",
        ),
    ],
)
def test_a_garbled_message_of_the_screening_process_is_a_one_line_error(
    duckdb_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    says: str,
    error: str,
) -> None:
    monkeypatch.setattr(ingest_module, "PROCESS_MIN_BYTES", 0)
    child = tmp_path / "garbling-python"
    child.write_text(f"#!/bin/sh\n{says}\n")
    child.chmod(0o755)
    monkeypatch.setattr("sys.executable", str(child))
    path = write_jsonl(tmp_path / "in.jsonl", [request("r-1")])

    with open_store("duckdb") as store, pytest.raises(TrellisError) as raised:
        ingest_files(store, "requests", [path])

    assert str(raised.value).startswith(error)
    assert "\n" not in str(raised.value)


def test_what_else_the_screening_process_prints_goes_to_stderr(tmp_path: Path) -> None:
    """Only the messages use the channel: a print in the child cannot garble them."""
    script = (
        "import sys, os\n"
        "from trellis.services import screen_worker as w\n"
        "w._channel = w._own_stdout()\n"
        "print('stray print')\n"
        "os.write(1, b'stray write\\n')\n"
        "w._send({'done': True})\n"
    )
    done = in_fresh_python(script)
    assert done.stdout == '{"done": true}\n'
    assert done.stderr == "stray print\nstray write\n"


def test_the_screening_process_runs_at_a_lower_priority_than_the_parent(tmp_path: Path) -> None:
    """The parent's appends are the slower stage: on a busy machine they get the cores first."""
    path = write_jsonl(tmp_path / "in.jsonl", [request("r-1")])
    with screened_in_process("requests", [path]) as child:
        while not child.ready():  # the child lowers its priority before it says it is ready
            time.sleep(0.01)
        priority = os.getpriority(os.PRIO_PROCESS, child.pid)
        assert list(child.screened(0, TextPosition())) != []

    assert CHILD_NICE > 0
    assert priority == min(os.getpriority(os.PRIO_PROCESS, 0) + CHILD_NICE, 19)
