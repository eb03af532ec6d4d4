"""`trellis ingest` commands (registered by trellis.cli)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from trellis.config import resolve_target
from trellis.errors import TrellisError
from trellis.ingest import IngestInterrupted, IngestReport, ingest_files, rehash
from trellis.ingest.contract import RecordKind
from trellis.storage import open_store

ingest_app = typer.Typer(
    help="Load gateway logs (JSONL, JSONL.gz, Parquet) into the raw tables.",
    no_args_is_help=True,
)

Files = Annotated[
    list[Path],
    typer.Argument(help="Input files: .jsonl, .jsonl.gz or .parquet.", show_default=False),
]
Target = Annotated[
    str | None,
    typer.Option(
        "--target",
        "-t",
        help="duckdb or postgres (default: $TRELLIS_TARGET, else duckdb).",
        show_default=False,
    ),
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.add_typer(ingest_app, name="ingest")
    app.command("rehash")(rehash_command)


def rehash_command(target: Target = None) -> None:
    """Recompute every stored record_hash as the content fingerprint of this version.

    Ingest does it by itself when it finds older hashes; this runs it by hand.
    """
    chosen = resolve_target(target)
    with open_store(chosen) as store:
        changed = rehash(store)
    Console().print(f"{changed:,} record hashes updated on {chosen}")


@ingest_app.command("requests")
def ingest_requests(files: Files, target: Target = None) -> None:
    """Load request records (contract section 1) into raw.requests."""
    _ingest("requests", files, target)


@ingest_app.command("feedback")
def ingest_feedback(files: Files, target: Target = None) -> None:
    """Load feedback records (contract section 2) into raw.feedback."""
    _ingest("feedback", files, target)


def _ingest(kind: RecordKind, files: list[Path], target: str | None) -> None:
    chosen = resolve_target(target)
    console = Console(stderr=True)
    with (
        open_store(chosen) as store,
        progress_by_source(console, "lines") as (progress, on_progress),
    ):
        try:
            report = ingest_files(store, kind, files, on_progress=on_progress)
        except IngestInterrupted as stopped:
            progress.stop()
            Console().print(report_table(kind, chosen, stopped.report))
            console.print(f"trellis: {stopped}")
            raise typer.Exit(130) from None
    Console().print(report_table(kind, chosen, report))
    if report.all_rejected:
        raise TrellisError(
            f"every one of the {report.total_quarantined:,} lines read was rejected: "
            "see raw.quarantine (reason, detail, raw_text)"
        )


@contextmanager
def progress_by_source(
    console: Console, unit: str
) -> Iterator[tuple[Progress, Callable[[str, int], None]]]:
    """A transient progress line per source, and the callback that moves it."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} " + unit),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_progress(source: str, count: int) -> None:
            if source not in tasks:
                tasks[source] = progress.add_task(Path(source).name, total=None)
            progress.update(tasks[source], completed=count)

        yield progress, on_progress


def report_table(kind: str, target: str, report: IngestReport) -> Table:
    files = len(report.files)
    table = Table(
        title=f"{kind} from {files} file{'s' if files != 1 else ''} into {target}",
        title_justify="left",
    )
    table.add_column("result")
    table.add_column("records", justify="right")
    table.add_row("loaded", f"{report.loaded:,}")
    table.add_row("duplicates (already stored)", f"{report.duplicates:,}")
    table.add_row("quarantined", f"{report.total_quarantined:,}")
    for reason, count in sorted(report.quarantined.items()):
        table.add_row(f"  {reason}", f"{count:,}")
    if report.already_quarantined:
        table.add_row("  of which already in raw.quarantine", f"{report.already_quarantined:,}")
    return table
