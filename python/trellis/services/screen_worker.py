"""Large inputs are read and screened in a child process, beside the appending one.

Reading, the screen (its Python parts) and appending (DuckDB) all want Python's
lock: DuckDB's client takes it back at every step of a statement, so a
thread decoding JSON next to it stalls the appends (measured: a 1M-request
ingest kept 1.1 of 2 cores busy). A child process has a lock of its own. It
reads the files (trellis.services.line_chunks), marks and screens each chunk
(trellis.services.screening, on two threads), has the validation SQL
classify the lines the screen left (trellis.services.validation, a group of
chunks a call: see classified), and writes each screened chunk as Arrow IPC
files to shared memory (/dev/shm where there is one); the parent maps the
files (no copy) and appends them. The child names each file
on its stdout and stays at most QUEUE_DEPTH chunks ahead, so memory stays
bounded.

The child runs at a lower priority (CHILD_NICE): it has slack, the appends do not.
The child is a fresh interpreter (`python -m trellis.services.screen_worker`:
nothing of the parent's threads or DuckDB connections; DuckDB is not
fork-safe) that starts in some 0.3 s and writes every line once more (the
IPC files), so only inputs of PROCESS_MIN_BYTES or more take this path.
Meanwhile the parent reads and screens the first chunks itself (see ingest):
once started, the child says it is ready, and the parent answers with where
its own reading stopped (a file and a TextPosition), from where the child
reads on. Errors in the child (an unreadable file) come back
as the same one-line messages as on the thread path.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NamedTuple

import pyarrow as pa

from trellis.errors import TrellisError
from trellis.services.contract import RecordKind
from trellis.services.line_chunks import CHUNK_SCHEMA, TextPosition, iter_file_chunks
from trellis.services.read_ahead import read_ahead
from trellis.services.screening import Screen, ScreenedChunk, screened_chunk
from trellis.services.validation import Validator, classified

__all__ = ["PROCESS_MIN_BYTES", "ScreeningProcess", "screened_in_process"]

#: Inputs (bytes on disk) from which the child process pays off. Measured on
#: demo traffic (2 cores; the reader's split and the screen's pass run outside
#: Python's lock on both paths): 100k requests, 243 MB, 2.21 s on threads
#: against 2.37 s with the child; 300k, 718 MB, 6.01 against 5.92 s; 1M,
#: 2.5 GB, 21.0 against 19.9 s.
PROCESS_MIN_BYTES = 512 * 1024 * 1024
#: Screened chunks the child may have sent ahead of the parent: more than a
#: group (validation.GROUP_CHUNKS, classified by the SQL together), so sending
#: a group seldom waits for the parent
#: (with 2, a 1M-request ingest took 40 s instead of 34).
QUEUE_DEPTH = 6
#: How much lower the child's scheduling priority is than the parent's (nice). The
#: parent's appends are the slower stage, and on a 2-core machine the two
#: processes' threads outnumber the cores: at equal priority the appending
#: thread waited 2.6 s for a core during a 1M-request ingest, at +10 1.0 s
#: (and the ingest took 19.5-19.9 s instead of 21.4-21.9). The child runs
#: ahead of the parent, so it has the slack.
CHILD_NICE = 10
#: Buffer of the IPC file writes.
WRITE_BUFFER_BYTES = 1024 * 1024
#: Free space /dev/shm needs to be used: the chunks written ahead
#: (QUEUE_DEPTH), held for a group (validation.GROUP_CHUNKS) and mapped in the
#: parent (up to 7: read ahead, validating, ingest.VALIDATE_AHEAD validated,
#: appending), with room to spare (chunks are some 17 MB: 17 of them 290 MB).
SHM_MIN_FREE = 384 * 1024 * 1024


@contextmanager
def screened_in_process(kind: RecordKind, paths: Sequence[Path]) -> Iterator[ScreeningProcess]:
    """A child process that screens `paths` from where the parent tells it to start."""
    folder = tempfile.mkdtemp(prefix="trellis-screen-", dir=_shared_memory())
    command = [sys.executable, "-m", __name__, kind, folder, *(str(path) for path in paths)]
    # the child imports trellis from wherever this process does
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
    # stderr to a file: a pipe nobody reads until the end could fill and stall the child
    try:
        with tempfile.TemporaryFile("w+") as stderr:
            child = subprocess.Popen(  # our own interpreter and module; paths as arguments
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env=env,
            )
            process = ScreeningProcess(child, stderr)
            try:
                yield process
            finally:
                process.close()
                if child.poll() is None:
                    child.kill()
                child.communicate()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class ScreeningProcess:
    """The parent's side of a screening process: is it ready, and its screened chunks."""

    def __init__(self, child: subprocess.Popen[str], stderr: IO[str]) -> None:
        assert child.stdout is not None and child.stdin is not None
        self._child = child
        self._stdout, self._stdin = child.stdout, child.stdin
        self._stderr = stderr
        self._ready = False
        # a selector, not select(): that refuses descriptors past 1023
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._stdout, selectors.EVENT_READ)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._child.pid

    def ready(self) -> bool:
        """Whether the child has started (or stopped: `screened` then says why); never waits.

        It looks at the pipe itself, so it must be asked before anything is read
        from `stdout` (text read into Python's buffer is not seen): `screened` reads.
        """
        if not self._ready:
            self._ready = bool(self._selector.select(timeout=0))
        return self._ready

    def close(self) -> None:
        self._selector.close()

    def screened(self, file: int, start: TextPosition) -> Iterator[ScreenedChunk]:
        """The child's screened chunks, from `start` in the file-th path (past the last: none).

        Waits for the child to be ready; a newline back asks for one more chunk.
        """
        first = self._stdout.readline()
        if not first or "ready" not in _message(first):
            yield from self._messages(first)
            return
        self._tell({"file": file, "offset": start.offset, "line": start.line})
        yield from self._messages()

    def _messages(self, *first: str) -> Iterator[ScreenedChunk]:
        for line in itertools.chain(first, self._stdout):
            if not line:
                break
            message = _message(line)
            if "error" in message:
                raise TrellisError(message["error"])
            if message.get("done"):
                return
            item = _screened_chunk(message)
            self._tell(None)
            yield item
        self._child.wait()
        self._stderr.seek(0)
        last = self._stderr.read().strip().splitlines()
        detail = f": {last[-1]}" if last else ""
        raise TrellisError(
            f"the screening process stopped unexpectedly (exit code {self._child.returncode})"
            f"{detail}"
        )

    def _tell(self, message: dict[str, Any] | None) -> None:
        """One line to the child: a JSON message, or a bare newline (one more chunk)."""
        with contextlib.suppress(BrokenPipeError):  # a child that has sent all has left
            self._stdin.write((json.dumps(message) if message else "") + "\n")
            self._stdin.flush()


def _shared_memory() -> str | None:
    """/dev/shm when it can hold what the child may write ahead; else the temp folder.

    Containers often mount a 64 MB /dev/shm; files in the temp folder are
    read back from the page cache just as well.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        return None
    free = os.statvfs(shm)
    return str(shm) if free.f_bavail * free.f_frsize >= SHM_MIN_FREE else None


def _message(line: str) -> dict[str, Any]:
    """One message of the child: a JSON object on a line."""
    try:
        message = json.loads(line)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        raise TrellisError(
            f"the screening process sent an unreadable message: {line.strip()!r:.200}"
        )
    return message


def _screened_chunk(message: dict[str, Any]) -> ScreenedChunk:
    """The chunk a message names: its IPC files, mapped."""
    try:
        decided = _mapped(message["decided"]) if message["decided"] else None
        return ScreenedChunk(
            message["source"],
            message["lines"],
            _mapped(message["cleared"]),
            CHUNK_SCHEMA.empty_table(),
            decided,
        )
    except KeyError as exc:
        raise TrellisError(f"the screening process sent a chunk without {exc}") from exc
    except (OSError, pa.ArrowInvalid) as exc:
        raise TrellisError(f"a chunk of the screening process cannot be read: {exc}") from exc


def _mapped(path: str) -> pa.Table:
    """A table written by the child, mapped in place; the file is gone once it is mapped."""
    table = pa.ipc.open_file(pa.memory_map(path)).read_all()
    os.unlink(path)  # the mapping (and its pages) lives as long as the table
    return table


def _screen_files(kind: RecordKind, folder: str, paths: list[str]) -> None:
    """The child: read, mark and screen every chunk; hand each over as two IPC files.

    It stays at most QUEUE_DEPTH chunks ahead of the parent, which answers
    each chunk it took with a newline on the child's stdin. When the parent
    is gone (stdin or stdout closed), the child removes the folder itself.
    """
    os.nice(CHILD_NICE)
    global _channel
    _channel = _own_stdout()
    try:
        _screen_into(kind, folder, paths)
    except _ParentGone:
        shutil.rmtree(folder, ignore_errors=True)


class _ParentGone(Exception):
    pass


#: The child's channel to the parent (see _own_stdout).
_channel: IO[str] = sys.stdout


def _own_stdout() -> IO[str]:
    """Standard output for the messages alone: file descriptor 1 (and sys.stdout) then
    lead to stderr, so nothing else printed (by a library, or C code) garbles them."""
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return channel


def _screen_into(kind: RecordKind, folder: str, paths: list[str]) -> None:
    validator = None
    try:
        screen = Screen(kind)
        validator = Validator(kind)
        _send({"ready": True})
        # where the parent's own reading stopped
        start = sys.stdin.readline()
        if not start:
            raise _ParentGone
        told = json.loads(start)
        first, position = told["file"], TextPosition(told["offset"], told["line"])

        chunks = (
            (path, screen.marked(chunk))
            for number, path in enumerate(paths[first:], first)
            for chunk in iter_file_chunks(Path(path), position if number == first else None)
        )
        with (
            # writes the cleared lines (the bulk of a chunk): Arrow lets go of
            # Python's lock meanwhile, so the next chunk is screened at once
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="trellis-write") as writer,
            read_ahead(chunks) as ready,
        ):
            screened = (
                _Screened(
                    number,
                    item,
                    writer.submit(_written, item.cleared, Path(folder) / f"{number}.arrow"),
                )
                for number, item in enumerate(
                    screened_chunk(screen, source, chunk) for source, chunk in ready
                )
            )
            sender = _Sender(Path(folder))
            for held, decided in classified(screened, _Screened.parts, lambda: validator):
                sender.send(held, decided)
        _send({"done": True})
    except TrellisError as exc:
        _send({"error": str(exc)})
    except _ParentGone:
        raise
    except Exception as exc:  # reported to the parent, which raises it
        _send({"error": f"screening failed: {type(exc).__name__}: {exc}"})
    finally:
        if validator is not None:
            validator.close()


class _Screened(NamedTuple):
    """A chunk screened in the child, numbered, its cleared lines being written."""

    number: int
    item: ScreenedChunk
    cleared: Future[str]

    def parts(self) -> tuple[str, pa.Table]:
        """(source, lines left for the SQL), as validation.classified takes them."""
        return self.item.source, self.item.left


class _Sender:
    """Sends screened chunks to the parent in order, each with its own classified lines
    (so the first occurrence of an id wins in line order), at most QUEUE_DEPTH ahead."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._sent = 0

    def send(self, held: _Screened, decided: pa.Table | None) -> None:
        """Send one chunk, with the lines it left classified (None: it left none)."""
        path = self._folder / f"{held.number}.decided.arrow"
        decided_path = _written(decided, path) if decided is not None else None
        # before sending chunk n, the parent has taken chunk n - QUEUE_DEPTH
        if self._sent >= QUEUE_DEPTH and not sys.stdin.readline():
            raise _ParentGone
        message = {"cleared": held.cleared.result(), "decided": decided_path}
        _send({"source": held.item.source, "lines": held.item.lines, **message})
        self._sent += 1


def _send(message: dict[str, Any]) -> None:
    """One message to the parent, a JSON line on its channel (stdout)."""
    try:
        _channel.write(json.dumps(message) + "\n")
        _channel.flush()
    except (BrokenPipeError, ValueError) as exc:  # stdout closed: the parent is gone
        raise _ParentGone from exc


def _written(table: pa.Table, path: Path) -> str:
    # buffered: a chunk's record batches are some 600 small buffers, each a write() unbuffered
    with (
        pa.OSFile(str(path), "wb") as file,
        pa.BufferedOutputStream(file, WRITE_BUFFER_BYTES) as sink,
        pa.ipc.new_file(sink, table.schema) as writer,
    ):
        writer.write_table(table)
    return str(path)


if __name__ == "__main__":
    _screen_files(sys.argv[1], sys.argv[2], sys.argv[3:])  # type: ignore[arg-type]
