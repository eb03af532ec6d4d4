"""`trellis ingest follow`: live ingest from a real nats-server with JetStream.

The follower runs as the installed command in a subprocess, as a user (or
systemd) runs it, so kill -9 and SIGTERM are real.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import nats
import psycopg

TRELLIS = str(Path(sys.executable).with_name("trellis"))


def _request(index: int) -> dict[str, Any]:
    return {
        "request_id": f"live-{index:06d}",
        "created_at": "2026-03-01T12:00:00Z",
        "model": "gpt-4o",
        "request": {"messages": [{"role": "user", "content": f"question {index}"}]},
        "response": {"choices": [{"message": {"role": "assistant", "content": f"answer {index}"}}]},
    }


def _stream() -> tuple[str, str]:
    name = f"T{uuid.uuid4().hex[:10]}"
    return name, f"live.{name.lower()}"


def _publish(url: str, stream: str, subject: str, payloads: Sequence[bytes]) -> None:
    async def main() -> None:
        connection = await nats.connect(url)
        jetstream = connection.jetstream()
        await jetstream.add_stream(name=stream, subjects=[subject])
        for start in range(0, len(payloads), 1000):
            await asyncio.gather(
                *(jetstream.publish(subject, data) for data in payloads[start : start + 1000])
            )
        await connection.close()

    asyncio.run(main())


def _consumer(url: str, stream: str, durable: str) -> tuple[int, int]:
    """(messages not yet delivered, delivered and not acknowledged) of the durable consumer."""

    async def main() -> tuple[int, int]:
        connection = await nats.connect(url)
        info = await connection.jetstream().consumer_info(stream, durable)
        await connection.close()
        return info.num_pending, info.num_ack_pending

    return asyncio.run(main())


def _follow_args(url: str, stream: str, subject: str, target: str, *extra: str) -> list[str]:
    return [
        TRELLIS, "ingest", "follow", url, "--stream", stream, "--subject", subject,
        "--target", target, "--durable", "test", *extra,
    ]  # fmt: skip


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra, "COLUMNS": "150"}


def _pg_count(env: dict[str, str], sql: str) -> int:
    with psycopg.connect(
        host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"], dbname=env["PGDATABASE"]
    ) as connection:
        try:
            row = connection.execute(sql).fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
        return int(row[0]) if row else 0


def test_follow_loads_each_record_once_and_quarantines_and_acks_bad_messages(
    nats_url: str, duckdb_env: dict[str, str]
) -> None:
    stream, subject = _stream()
    bad_json = b'{"request_id": "live-x", '
    no_model = json.dumps({k: v for k, v in _request(99).items() if k != "model"}).encode()
    payloads = [json.dumps(_request(i)).encode() for i in range(50)]
    payloads += [json.dumps(_request(0)).encode(), bad_json, no_model]  # seq 51, 52, 53
    _publish(nats_url, stream, subject, payloads)

    args = _follow_args(nats_url, stream, subject, "duckdb", "--idle-exit", "1", "--batch", "20")
    first = subprocess.run(args, env=_env(duckdb_env), capture_output=True, text=True, timeout=120)
    again = subprocess.run(args, env=_env(duckdb_env), capture_output=True, text=True, timeout=120)

    assert first.returncode == 0, first.stderr
    assert "53 messages" in first.stderr and "lag 0 pending" in first.stderr
    with duckdb.connect(duckdb_env["TRELLIS_DUCKDB_PATH"], read_only=True) as connection:
        ids = [row[0] for row in connection.sql("select request_id from raw.requests").fetchall()]
        quarantined = connection.sql(
            "select source_file, source_line, reason, raw_text from raw.quarantine "
            "order by source_line"
        ).fetchall()
    assert sorted(ids) == [f"live-{i:06d}" for i in range(50)]
    assert quarantined == [
        (f"jetstream:{stream}/{subject}", 52, "invalid_json", bad_json.decode()),
        (f"jetstream:{stream}/{subject}", 53, "missing_field", no_model.decode()),
    ]
    assert "loaded 50, duplicates 1, quarantined 2" in first.stderr
    assert _consumer(nats_url, stream, "test") == (0, 0)  # every message acknowledged
    assert again.returncode == 0 and "0 messages" in again.stderr


def test_a_follower_killed_mid_batch_and_restarted_loads_every_message_exactly_once(
    nats_url: str, pg_env: dict[str, str]
) -> None:
    stream, subject = _stream()
    count = 6000
    _publish(nats_url, stream, subject, [json.dumps(_request(i)).encode() for i in range(count)])
    args = _follow_args(nats_url, stream, subject, "postgres", "--batch", "200", "--ack-wait", "2")
    follower = subprocess.Popen(
        args, env=_env(pg_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    loaded = 0
    while loaded < 400 and time.monotonic() < deadline:
        loaded = _pg_count(pg_env, "select count(*) from raw.requests")
        time.sleep(0.05)
    follower.kill()  # SIGKILL: no batch finished, no ack sent
    follower.wait(10)
    at_kill = _pg_count(pg_env, "select count(*) from raw.requests")
    assert 0 < at_kill < count, "the kill must land mid-stream"

    restart = subprocess.run(
        [*args, "--idle-exit", "6"], env=_env(pg_env), capture_output=True, text=True, timeout=300
    )

    assert restart.returncode == 0, restart.stderr
    assert _pg_count(pg_env, "select count(*) from raw.requests") == count
    assert _pg_count(pg_env, "select count(distinct request_id) from raw.requests") == count
    assert _pg_count(pg_env, "select count(*) from raw.quarantine") == 0
    assert _consumer(nats_url, stream, "test") == (0, 0)


def test_sigterm_finishes_the_batch_acknowledges_it_and_exits_zero(
    nats_url: str, pg_env: dict[str, str]
) -> None:
    stream, subject = _stream()
    count = 3000
    _publish(nats_url, stream, subject, [json.dumps(_request(i)).encode() for i in range(count)])
    args = _follow_args(nats_url, stream, subject, "postgres", "--batch", "100")
    follower = subprocess.Popen(
        args, env=_env(pg_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while _pg_count(pg_env, "select count(*) from raw.requests") == 0:
        assert time.monotonic() < deadline and follower.poll() is None
        time.sleep(0.05)
    follower.send_signal(signal.SIGTERM)
    _, stderr = follower.communicate(timeout=60)

    assert follower.returncode == 0, stderr
    loaded = _pg_count(pg_env, "select count(*) from raw.requests")
    pending, unacknowledged = _consumer(nats_url, stream, "test")
    assert unacknowledged == 0  # what was fetched was committed and acknowledged
    assert loaded + pending == count


def test_max_messages_stops_the_follower_after_that_many_and_leaves_the_rest_pending(
    nats_url: str, duckdb_env: dict[str, str]
) -> None:
    stream, subject = _stream()
    _publish(nats_url, stream, subject, [json.dumps(_request(i)).encode() for i in range(30)])
    args = _follow_args(nats_url, stream, subject, "duckdb", "--max-messages", "10", "--batch", "4")

    result = subprocess.run(args, env=_env(duckdb_env), capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    with duckdb.connect(duckdb_env["TRELLIS_DUCKDB_PATH"], read_only=True) as connection:
        loaded = connection.sql("select count(*) from raw.requests").fetchone()
    assert loaded == (10,)
    assert _consumer(nats_url, stream, "test") == (20, 0)
