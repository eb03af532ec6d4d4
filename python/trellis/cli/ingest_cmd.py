"""`trellis ingest` commands (registered by trellis.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from trellis.config import resolve_target
from trellis.services.contract import RecordKind
from trellis.services.ingest import IngestReport, ingest_files
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
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed:,} lines"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        tasks: dict[str, TaskID] = {}

        def on_progress(source: str, lines: int) -> None:
            if source not in tasks:
                tasks[source] = progress.add_task(Path(source).name, total=None)
            progress.update(tasks[source], completed=lines)

        report = ingest_files(store, kind, files, on_progress=on_progress)
    Console().print(_summary(kind, chosen, report))


def _summary(kind: str, target: str, report: IngestReport) -> Table:
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
