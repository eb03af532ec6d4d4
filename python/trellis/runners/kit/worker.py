"""Work a cohort's queue: claim tasks, call the endpoints, ingest the records, mark done.

Shared by replay and judge: an executor knows how to run one kind of task
and which record ids it writes; the runner knows the job log, concurrency
and batching. Records are ingested in batches and a task is marked done only when every
record it wrote is found in its raw table afterwards: a record ingest
quarantined (a NUL in the reply, a negative token count) makes its task
`failed` with the reason, to be retried by the next run, never `done`. A
task found already stored (a crash between the
two) is marked done without calling again. Partial results of a failed
multi-step task are kept, and the next run continues from them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from trellis.runners.kit import records as raw_records
from trellis.runners.kit.db import Db
from trellis.runners.kit.http_client import ChatClient
from trellis.runners.kit.joblog import ClaimedTask, JobLog, Outcome
from trellis.runners.kit.secrets import scrub
from trellis.runners.kit.settings import RunSettings

#: Results are ingested and marked done in batches: each flush costs a few statements, whatever
#: its size, so fewer, larger flushes are what lets one process keep up with hundreds of calls/s.
FLUSH_INTERVAL_S = 0.25

_T = TypeVar("_T")
_Item = tuple[ClaimedTask, Mapping[str, dict[str, Any]]]


@dataclass
class TaskResult:
    task_id: str
    ok: bool
    records: list[dict[str, Any]]
    attempts: int
    tokens: int
    error: str | None = None


class Executor(Protocol):
    """One kind of task (replay, judge): the records it writes and how one task runs."""

    @property
    def record_kind(self) -> raw_records.RecordKind:
        """The raw table its records go to (requests or feedback)."""
        ...

    @property
    def source(self) -> str:
        """How ingest names these records (source_file)."""
        ...

    def record_ids(self, task: ClaimedTask) -> list[str]:
        """The deterministic ids of every record the task writes."""
        ...

    async def run(
        self, task: ClaimedTask, existing: Mapping[str, dict[str, Any]], client: ChatClient
    ) -> TaskResult: ...


class Progress(Protocol):
    def start(self, total: int, done: int, failed: int) -> None: ...

    def advance(self, ok: bool, tokens: int) -> None: ...


@dataclass
class RunSummary:
    cohort_id: str
    done: int = 0
    failed: int = 0
    skipped: int = 0
    calls_made: int = 0
    tokens: int = 0
    seconds: float = 0.0
    remaining: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Runner:
    def __init__(
        self,
        db: Db,
        joblog: JobLog,
        executor: Executor,
        client: ChatClient,
        settings: RunSettings,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.joblog = joblog
        self.executor = executor
        self.client = client
        self.settings = settings
        self.progress = progress
        self.clock = clock
        self._results: list[TaskResult] = []
        self._flush_error: BaseException | None = None
        # Every statement runs on one thread of its own, one at a time: the store's
        # connection is never shared concurrently, and the event loop keeps sending
        # and receiving while a batch is ingested.
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="trellis-db")

    async def _db(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, fn, *args)

    async def run(self, cohort_id: str, max_tasks: int | None = None) -> RunSummary:
        """Work until nothing of the cohort is left to claim (or `max_tasks` are finished)."""
        try:
            return await self._run(cohort_id, max_tasks)
        finally:
            self._db_thread.shutdown(wait=True)

    async def _run(self, cohort_id: str, max_tasks: int | None) -> RunSummary:
        summary = RunSummary(cohort_id)
        started = self.clock()
        await self._db(self.joblog.recover, cohort_id)
        counts = await self._db(self.joblog.counts, cohort_id)
        if self.progress is not None:
            self.progress.start(sum(counts.values()), counts["done"], counts["failed"])
        queue: asyncio.Queue[_Item | None] = asyncio.Queue()
        workers = [asyncio.create_task(self._work(queue)) for _ in range(self.settings.concurrency)]
        stop = asyncio.Event()
        flusher = asyncio.create_task(self._flush_loop(summary, stop))
        try:
            await self._claim_loop(cohort_id, queue, summary, max_tasks)
            for _ in workers:
                queue.put_nowait(None)
            await asyncio.gather(*workers)
        finally:
            stop.set()
            await flusher
            for worker in workers:
                worker.cancel()
            if self._flush_error is None:
                await self._flush(summary)
            await self._db(self.joblog.release)
        if self._flush_error is not None:
            raise self._flush_error
        counts = await self._db(self.joblog.counts, cohort_id)
        summary.remaining = counts["pending"] + counts["claimed"]
        summary.errors = await self._db(self.joblog.failures, cohort_id)
        summary.seconds = self.clock() - started
        return summary

    async def _claim_loop(
        self,
        cohort_id: str,
        queue: asyncio.Queue[_Item | None],
        summary: RunSummary,
        max_tasks: int | None,
    ) -> None:
        claimed_total = 0
        batch = max(1, self.settings.batch_size)
        idle_sleep = 0.05
        while (max_tasks is None or claimed_total < max_tasks) and self._flush_error is None:
            # Keep a batch in hand beyond what the lanes hold: a claim waits behind an
            # ingest on the database thread, and the lanes must not run dry meanwhile.
            if queue.qsize() >= self.settings.concurrency + batch:
                await asyncio.sleep(0.005)
                continue
            limit = batch if max_tasks is None else min(batch, max_tasks - claimed_total)
            claimed = await self._db(self.joblog.claim, cohort_id, limit, self.settings.lease_s)
            if not claimed:
                if await self._db(self._nothing_left_to_claim, cohort_id):
                    return
                # Another worker holds claims: wait for it to finish, or for its lease to run out.
                await asyncio.sleep(idle_sleep)
                idle_sleep = min(1.0, idle_sleep * 2)
                continue
            idle_sleep = 0.05
            claimed_total += len(claimed)
            ids = [record_id for task in claimed for record_id in self.executor.record_ids(task)]
            kind = self.executor.record_kind
            existing = (
                await self._db(raw_records.existing_records, self.db, kind, ids) if ids else {}
            )
            for task in claimed:
                wanted = self.executor.record_ids(task)
                if wanted and all(i in existing for i in wanted):
                    summary.skipped += 1
                    self._results.append(TaskResult(task.task_id, True, [], 0, 0))
                    continue
                task_existing = {i: existing[i] for i in wanted if i in existing}
                queue.put_nowait((task, task_existing))

    def _nothing_left_to_claim(self, cohort_id: str) -> bool:
        """No task is pending, and (PostgreSQL) no other worker holds one.

        Other workers' claims are counted in the database, not as all claims less
        this worker's own tally: that tally and the counts were taken at different
        moments, so results just marked done but still counted as being flushed
        hid a dead worker's claims, and the survivor left them for the next run.
        """
        if self.joblog.counts(cohort_id)["pending"]:
            return False
        return not self.joblog.postgres or self.joblog.claimed_by_others(cohort_id) == 0

    async def _work(self, queue: asyncio.Queue[_Item | None]) -> None:
        while True:
            item = await queue.get()
            if item is None:
                return
            task, existing = item
            try:
                result = await self.executor.run(task, existing, self.client)
            except Exception as exc:  # a bug in one task must not stop the cohort
                error = scrub(f"{type(exc).__name__}: {exc}")
                result = TaskResult(task.task_id, False, [], 0, 0, error)
            self._results.append(result)

    async def _flush_loop(self, summary: RunSummary, stop: asyncio.Event) -> None:
        last_heartbeat = self.clock()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), FLUSH_INTERVAL_S)
            try:
                await self._flush(summary)
                if (
                    self.joblog.postgres
                    and self.clock() - last_heartbeat > self.settings.lease_s / 3
                ):
                    await self._db(self.joblog.heartbeat, self.settings.lease_s)
                    last_heartbeat = self.clock()
            except BaseException as exc:  # stop claiming; run() re-raises it
                self._flush_error = exc
                return

    async def _flush(self, summary: RunSummary) -> None:
        results, self._results = self._results, []
        if not results:
            return
        await self._db(self._store_results, results)
        for r in results:
            summary.done += r.ok
            summary.failed += not r.ok
            summary.calls_made += r.attempts
            summary.tokens += r.tokens
            if self.progress is not None:
                self.progress.advance(r.ok, r.tokens)

    def _store_results(self, results: list[TaskResult]) -> None:
        """Records first, then the job log: a crash in between is repaired on the next claim."""
        records = [record for result in results for record in result.records]
        if records:
            kind = self.executor.record_kind
            report = raw_records.ingest(self.db, kind, records, self.executor.source)
            id_column = raw_records.ID_COLUMN[kind]
            wanted = [str(record[id_column]) for record in records]
            stored = raw_records.stored_ids(self.db, kind, wanted)
            for result in results:
                missing = [
                    str(rec[id_column]) for rec in result.records if rec[id_column] not in stored
                ]
                if missing:
                    result.ok = False
                    result.error = (
                        f"record {missing[0]} {raw_records.quarantine_summary(report)}"
                        " (see raw.quarantine)"
                    )
        self.joblog.finish(
            [
                Outcome(
                    r.task_id,
                    r.ok,
                    r.attempts,
                    r.tokens,
                    [str(rec.get("request_id") or rec.get("feedback_id")) for rec in r.records],
                    r.error,
                )
                for r in results
            ]
        )
