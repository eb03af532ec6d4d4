"""Crash safety and sharing: `trellis replay` processes killed with SIGKILL at any moment,
and two workers sharing one cohort on PostgreSQL. Every task ends done exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.openai_server import OpenAIServer, running_server
from tests.replay_world import job_counts, load, many_roots, replay_records
from trellis.config import TargetName
from trellis.runners.kit.cohort import enqueue
from trellis.runners.replay.manifest import parse_manifest
from trellis.runners.replay.service import plan
from trellis.storage import open_store

TASKS = 150


@pytest.fixture
def slow_server() -> Iterator[OpenAIServer]:
    with running_server(latency=0.02) as srv:
        yield srv


def write_manifest(tmp_path: Path, server: OpenAIServer, **run: Any) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "mode": "node",
                "nodes": {"where": {"agent_id": "ide"}},
                "variants": [{"name": "mini", "model": "gpt-4o-mini"}],
                "endpoints": {"default": {"base_url": server.base_url}},
                "run": {
                    "concurrency": 4,
                    "timeout_s": 5,
                    "lease_s": 1,
                    "backoff_base_s": 0.01,
                    **run,
                },
            }
        )
    )
    return path


def start(manifest: Path, target: str, env: dict[str, str]) -> subprocess.Popen[str]:
    trellis = str(Path(sys.executable).with_name("trellis"))
    return subprocess.Popen(
        [trellis, "replay", str(manifest), "--target", target],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_calls(server: OpenAIServer, process: subprocess.Popen[str], count: int) -> None:
    deadline = time.monotonic() + 30
    while server.state.count < count and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)


def finish(process: subprocess.Popen[str], timeout: float = 60) -> None:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"{out}\n{err}"


def assert_done_exactly_once(target: TargetName, expected: int) -> None:
    with open_store(target) as store:
        records = replay_records(store)
        assert job_counts(store) == {"done": expected}
        assert len(records) == expected
        assert len({r["request_id"] for r in records}) == expected
        assert len({r["branch"]["replay_of_request_id"] for r in records}) == expected
        assert store.query("select count(*) from raw.quarantine")[0][0] == 0  # no conflicting twin


def test_sigkill_at_any_moment_then_resume_finishes_every_task_exactly_once(
    target_env: tuple[str, dict[str, str]], slow_server: OpenAIServer, tmp_path: Path
) -> None:
    target: TargetName = target_env[0]  # type: ignore[assignment]
    with open_store(target) as store:
        load(store, many_roots(TASKS))
    manifest = write_manifest(tmp_path, slow_server)
    # Kill during start-up (planning, writing the job log), then mid-run at several points.
    kill_points = [0, 20, 60, 110]
    for point in kill_points:
        process = start(manifest, target, target_env[1])
        if point == 0:
            time.sleep(0.8)
        else:
            wait_for_calls(slow_server, process, point)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    process = start(manifest, target, target_env[1])
    finish(process)
    assert_done_exactly_once(target, TASKS)


@pytest.mark.postgres
def test_two_workers_share_a_cohort_and_reclaim_the_tasks_of_a_dead_one(
    pg_env: dict[str, str], slow_server: OpenAIServer, tmp_path: Path
) -> None:
    with open_store("postgres") as store:
        load(store, many_roots(TASKS * 2))
        manifest = write_manifest(tmp_path, slow_server, batch_size=8)
        raw = yaml.safe_load(manifest.read_text())
        parsed = parse_manifest(raw)
        enqueue(store, plan(store, parsed, raw))
    first = start(manifest, "postgres", pg_env)
    second = start(manifest, "postgres", pg_env)
    with open_store("postgres") as store:  # kill the first once both have finished some tasks
        deadline = time.monotonic() + 30
        while (
            time.monotonic() < deadline
            and store.query(
                "select count(distinct worker_id) from runner.jobs where status = 'done'"
            )[0][0]
            < 2
        ):
            time.sleep(0.02)
    first.send_signal(signal.SIGKILL)  # its claims stay until their 1 s lease runs out
    first.wait(timeout=10)
    finish(second)
    assert_done_exactly_once("postgres", TASKS * 2)
    with open_store("postgres") as store:
        workers = store.query("select count(distinct worker_id) from runner.jobs")[0][0]
        claimed_twice = store.query("select count(*) from runner.jobs where claims > 1")[0][0]
    assert workers == 2  # both did a share (the survivor's id is on what it finished)
    assert claimed_twice >= 1  # the dead worker's claims were taken over after their lease


@pytest.mark.postgres
def test_two_live_workers_split_the_cohort_without_overlap(
    pg_env: dict[str, str], slow_server: OpenAIServer, tmp_path: Path
) -> None:
    with open_store("postgres") as store:
        load(store, many_roots(TASKS))
    manifest = write_manifest(tmp_path, slow_server, batch_size=8)
    workers = [start(manifest, "postgres", pg_env) for _ in range(2)]
    for worker in workers:
        finish(worker)
    assert_done_exactly_once("postgres", TASKS)
    with open_store("postgres") as store:
        shares = store.query("select worker_id, count(*) from runner.jobs group by 1")
        assert store.query("select max(claims) from runner.jobs")[0][0] == 1
    assert len(shares) == 2 and all(n > 0 for _, n in shares)
    assert slow_server.state.count == TASKS  # no task was sent twice
