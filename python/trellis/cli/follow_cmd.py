"""`trellis ingest follow nats://HOST:PORT --stream S --subject SUBJ` (registered by trellis.cli).

Added to the `ingest` group, so `trellis ingest requests|feedback FILES`
stay as they are.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Annotated

import typer

from trellis.cli.ingest_cmd import Target, ingest_app, report_table
from trellis.config import resolve_target
from trellis.errors import TrellisError
from trellis.services.follow import Follower, FollowOptions, FollowProgress
from trellis.storage import open_store


def register(app: typer.Typer) -> None:
    """Add `follow` to the `ingest` group."""
    ingest_app.command("follow", no_args_is_help=True)(follow)


def follow(
    url: Annotated[str, typer.Argument(help="NATS server, e.g. nats://127.0.0.1:4222.")],
    stream: Annotated[str, typer.Option(help="JetStream stream to read.", show_default=False)],
    subject: Annotated[str, typer.Option(help="Subject (filter) to consume.", show_default=False)],
    kind: Annotated[str, typer.Option(help="Record kind of the messages.")] = "requests",
    durable: Annotated[
        str, typer.Option(help="Durable consumer name: a restart resumes where it stopped.")
    ] = "trellis-ingest",
    batch: Annotated[int, typer.Option(min=1, help="Messages per fetch and commit.")] = 2000,
    max_messages: Annotated[
        int | None, typer.Option(min=1, help="Stop after this many messages.")
    ] = None,
    idle_exit: Annotated[
        float | None, typer.Option(min=0, help="Stop after this many seconds without a message.")
    ] = None,
    ack_wait: Annotated[
        float,
        typer.Option(
            min=0.5, help="Seconds before JetStream redelivers an unacknowledged message."
        ),
    ] = 60.0,
    progress_every: Annotated[
        float, typer.Option(min=0.1, help="Seconds between progress lines.")
    ] = 5.0,
    target: Target = None,
) -> None:
    """Ingest records from a JetStream stream as they arrive, until stopped (SIGTERM, Ctrl-C)."""
    if kind not in ("requests", "feedback"):
        raise TrellisError(f"unknown record kind {kind!r}: choose requests or feedback")
    if not url.startswith(("nats://", "tls://", "ws://", "wss://")):
        raise TrellisError(f"not a NATS URL: {url!r} (e.g. nats://127.0.0.1:4222)")
    options = FollowOptions(
        url=url,
        stream=stream,
        subject=subject,
        kind=kind,
        durable=durable,
        batch=batch,
        max_messages=max_messages,
        idle_exit=idle_exit,
        ack_wait=ack_wait,
        progress_every=progress_every,
    )
    chosen = resolve_target(target)
    with open_store(chosen) as store:
        progress = asyncio.run(_run(Follower(store, options, _print_progress)))
    typer.echo(_final_line(progress), err=True)
    from rich.console import Console

    table = report_table(kind, chosen, progress.report)
    table.title = f"{kind} from JetStream stream {stream} ({subject}) into {chosen}"
    Console().print(table)


async def _run(follower: Follower) -> FollowProgress:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, follower.request_stop)
    return await follower.run()


def _print_progress(progress: FollowProgress) -> None:
    print(_final_line(progress), file=sys.stderr, flush=True)


def _final_line(progress: FollowProgress) -> str:
    lag = "?" if progress.pending is None else f"{progress.pending:,}"
    report = progress.report
    return (
        f"follow: {progress.messages:,} messages ({progress.rate:,.0f}/s), "
        f"loaded {report.loaded:,}, duplicates {report.duplicates:,}, "
        f"quarantined {report.total_quarantined:,}, lag {lag} pending"
    )
