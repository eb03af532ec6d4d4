"""`trellis report`: write the warehouse's HTML report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trellis.config import TargetName, default_target
from trellis.errors import TrellisError
from trellis.storage import open_store


def report(
    target: Annotated[
        str | None,
        typer.Option("--target", "-t", help="duckdb (default) or postgres (PG* variables)."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path(
        "report.html"
    ),
) -> None:
    """Write one self-contained HTML report (charts inline, opens without a network)."""
    from trellis.report import write_report

    name = target or default_target()
    if name not in ("duckdb", "postgres"):
        raise TrellisError(f"unknown target {name!r}: choose duckdb or postgres")
    resolved: TargetName = name  # type: ignore[assignment]
    with open_store(resolved) as store:
        summary = write_report(store, resolved, out)
    empty = [s.title for s in summary.sections if s.is_empty]
    typer.echo(f"wrote {out}: {summary.chart_count} charts in {len(summary.sections)} sections")
    if empty:
        typer.echo(f"without data: {', '.join(empty)}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
