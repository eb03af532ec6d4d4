"""The job log: every task is written down before it is sent, and its fate after.

One row per task in `runner.jobs` (both targets), created idempotently:

- `pending`: planned, not started; `claimed`: a worker holds it until
  `lease_until`; `done`: its records are ingested; `failed`: attempts ran out
  or the endpoint refused it, `last_error` says why.
- Claims are atomic. On PostgreSQL several workers share a cohort with
  `for update skip locked`, and a claim whose lease ran out (its worker died)
  is taken again. On DuckDB one process owns the file, so at start every
  claim left by a killed run goes back to pending.
- A task is marked done only after its records are ingested. A crash between
  the two is repaired on the next claim: the runner finds the records by
  their deterministic ids and marks the task done without calling again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from trellis.runners.kit.db import Db
from trellis.runners.kit.secrets import scrub

RUNNER_SCHEMA = "runner"
JOBS = f"{RUNNER_SCHEMA}.jobs"

_DDL = [
    f"create schema if not exists {RUNNER_SCHEMA}",
    f"""create table if not exists {RUNNER_SCHEMA}.cohorts (
        cohort_id varchar primary key,
        kind varchar not null,
        name varchar,
        manifest varchar not null,
        created_at timestamptz not null
    )""",
    f"""create table if not exists {RUNNER_SCHEMA}.jobs (
        task_id varchar primary key,
        cohort_id varchar not null,
        kind varchar not null,
        status varchar not null,
        attempts integer not null,
        claims integer not null,
        last_error varchar,
        worker_id varchar,
        lease_until timestamptz,
        estimated_tokens bigint,
        used_tokens bigint,
        result_ids varchar,
        payload varchar not null,
        created_at timestamptz not null,
        updated_at timestamptz not null
    )""",
    # Shape of a batch of finished tasks, staged in a temp table (never holds rows).
    f"""create table if not exists {RUNNER_SCHEMA}.job_outcomes (
        task_id varchar,
        status varchar,
        attempts integer,
        used_tokens bigint,
        result_ids varchar,
        last_error varchar
    )""",
]
# DuckDB rewrites index entries on update; status changes constantly, so only
# PostgreSQL (many workers, large cohorts) gets the secondary index.
_PG_DDL = [f"create index if not exists jobs_cohort_status on {JOBS} (cohort_id, status)"]

_DDL_LOCK = 7_310_512_001  # any constant; it names the job-log DDL lock

STATUSES = ("pending", "claimed", "done", "failed")


@dataclass(frozen=True)
class NewTask:
    task_id: str
    kind: str
    payload: dict[str, Any]
    estimated_tokens: int


@dataclass(frozen=True)
class ClaimedTask:
    task_id: str
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class Outcome:
    task_id: str
    ok: bool
    attempts: int
    used_tokens: int
    result_ids: Sequence[str] = ()
    error: str | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class JobLog:
    def __init__(self, db: Db, worker_id: str) -> None:
        self.db = db
        self.worker_id = worker_id
        self.postgres = db.target == "postgres"

    def ensure(self) -> None:
        if not self.postgres:
            for statement in _DDL:
                self.db.execute(statement)
            return
        # Concurrent `create ... if not exists` can still collide in PostgreSQL's catalog
        # when several workers start at once: serialize them.
        self.db.query("select pg_advisory_lock(?)", [_DDL_LOCK])
        try:
            for statement in _DDL + _PG_DDL:
                self.db.execute(statement)
        finally:
            self.db.query("select pg_advisory_unlock(?)", [_DDL_LOCK])

    def register_cohort(
        self, cohort_id: str, kind: str, name: str | None, manifest: dict[str, Any]
    ) -> None:
        self.db.execute(
            f"insert into {RUNNER_SCHEMA}.cohorts (cohort_id, kind, name, manifest, created_at) "
            "values (?, ?, ?, ?, ?) on conflict (cohort_id) do nothing",
            [cohort_id, kind, name, json.dumps(manifest, default=str), _now()],
        )

    def enqueue(self, cohort_id: str, tasks: Sequence[NewTask], retry_failed: bool = True) -> int:
        """Write tasks ahead of any call (known ones stay as they are); returns how many are new."""
        before = self.total(cohort_id)
        now = _now()
        for chunk in _chunks(tasks, 5000):
            rows = pa.table(
                {
                    "task_id": [t.task_id for t in chunk],
                    "cohort_id": [cohort_id] * len(chunk),
                    "kind": [t.kind for t in chunk],
                    "status": ["pending"] * len(chunk),
                    "attempts": pa.array([0] * len(chunk), pa.int32()),
                    "claims": pa.array([0] * len(chunk), pa.int32()),
                    "estimated_tokens": pa.array([t.estimated_tokens for t in chunk], pa.int64()),
                    "payload": [json.dumps(t.payload, separators=(",", ":")) for t in chunk],
                    "created_at": pa.array([now] * len(chunk), pa.timestamp("us", tz="UTC")),
                    "updated_at": pa.array([now] * len(chunk), pa.timestamp("us", tz="UTC")),
                }
            )
            self.db.load_temp_table("runner_new_jobs", f"{JOBS}", rows)
            self.db.execute(
                f"insert into {JOBS} (task_id, cohort_id, kind, status, attempts, claims, "
                "estimated_tokens, payload, created_at, updated_at) "
                "select task_id, cohort_id, kind, status, attempts, claims, estimated_tokens, "
                "payload, created_at, updated_at from runner_new_jobs as n "
                "on conflict (task_id) do nothing",
            )
        if retry_failed:
            self.db.execute(
                f"update {JOBS} set status = 'pending', updated_at = ? "
                "where cohort_id = ? and status = 'failed'",
                [now, cohort_id],
            )
        return self.total(cohort_id) - before

    def total(self, cohort_id: str) -> int:
        rows = self.db.query(f"select count(*) from {JOBS} where cohort_id = ?", [cohort_id])
        return int(rows[0][0])

    def recover(self, cohort_id: str) -> int:
        """DuckDB: claims left by a killed run go back to pending (one process owns the file)."""
        if self.postgres:
            return 0
        rows = self.db.query(
            f"update {JOBS} set status = 'pending', worker_id = null, lease_until = null "
            "where cohort_id = ? and status = 'claimed' returning task_id",
            [cohort_id],
        )
        return len(rows)

    def claim(self, cohort_id: str, limit: int, lease_s: float) -> list[ClaimedTask]:
        now = _now()
        lease_until = now + dt.timedelta(seconds=lease_s)
        if self.postgres:
            sql = (
                f"update {JOBS} set status = 'claimed', worker_id = ?, claims = claims + 1, "
                "lease_until = now() + make_interval(secs => ?), updated_at = now() "
                f"where task_id in (select task_id from {JOBS} where cohort_id = ? "
                "and (status = 'pending' or (status = 'claimed' "
                "and (lease_until is null or lease_until < now()))) "
                "order by task_id limit ? for update skip locked) "
                "returning task_id, payload, attempts"
            )
            params: list[Any] = [self.worker_id, lease_s, cohort_id, limit]
        else:
            sql = (
                f"update {JOBS} set status = 'claimed', worker_id = ?, claims = claims + 1, "
                "lease_until = ?, updated_at = ? "
                f"where task_id in (select task_id from {JOBS} where cohort_id = ? "
                "and status = 'pending' order by task_id limit ?) "
                "returning task_id, payload, attempts"
            )
            params = [self.worker_id, lease_until, now, cohort_id, limit]
        rows = self.db.query(sql, params)
        return [ClaimedTask(str(r[0]), json.loads(r[1]), int(r[2])) for r in rows]

    def heartbeat(self, lease_s: float) -> None:
        """Extend this worker's leases while its tasks are still in flight."""
        self.db.execute(
            f"update {JOBS} set lease_until = ? where worker_id = ? and status = 'claimed'",
            [_now() + dt.timedelta(seconds=lease_s), self.worker_id],
        )

    def finish(self, outcomes: Sequence[Outcome]) -> None:
        """Record done and failed tasks, only where this worker still holds the claim."""
        if not outcomes:
            return
        rows = pa.table(
            {
                "task_id": [o.task_id for o in outcomes],
                "status": ["done" if o.ok else "failed" for o in outcomes],
                "attempts": pa.array([o.attempts for o in outcomes], pa.int32()),
                "used_tokens": pa.array([o.used_tokens for o in outcomes], pa.int64()),
                "result_ids": [
                    json.dumps(list(o.result_ids)) if o.result_ids else None for o in outcomes
                ],
                "last_error": [
                    None if o.ok else scrub(o.error or "failed")[:1000] for o in outcomes
                ],
            }
        )
        self.db.load_temp_table("runner_outcomes", f"{RUNNER_SCHEMA}.job_outcomes", rows)
        self.db.execute(
            f"update {JOBS} as j set status = v.status, attempts = j.attempts + v.attempts, "
            "used_tokens = v.used_tokens, result_ids = v.result_ids, last_error = v.last_error, "
            "lease_until = null, updated_at = now() from runner_outcomes as v "
            "where j.task_id = v.task_id and j.status = 'claimed' and j.worker_id = ?",
            [self.worker_id],
        )

    def release(self) -> None:
        """Give back this worker's unfinished claims (graceful stop)."""
        self.db.execute(
            f"update {JOBS} set status = 'pending', worker_id = null, lease_until = null "
            "where worker_id = ? and status = 'claimed'",
            [self.worker_id],
        )

    def counts(self, cohort_id: str) -> Counter[str]:
        rows = self.db.query(
            f"select status, count(*) from {JOBS} where cohort_id = ? group by status",
            [cohort_id],
        )
        return Counter({str(status): int(n) for status, n in rows})

    def claimed_by_others(self, cohort_id: str) -> int:
        """Tasks of the cohort that other workers hold: live ones, or dead ones whose
        lease has not run out yet (`claim` takes those over once it has)."""
        rows = self.db.query(
            f"select count(*) from {JOBS} where cohort_id = ? "
            "and status = 'claimed' and worker_id <> ?",
            [cohort_id, self.worker_id],
        )
        return int(rows[0][0])

    def failures(self, cohort_id: str, limit: int = 5) -> list[tuple[str, str]]:
        rows = self.db.query(
            f"select task_id, last_error from {JOBS} where cohort_id = ? "
            "and status = 'failed' order by task_id limit ?",
            [cohort_id, limit],
        )
        return [(str(r[0]), str(r[1])) for r in rows]
