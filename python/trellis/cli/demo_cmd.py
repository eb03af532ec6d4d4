"""`trellis demo` and `trellis build`: the one-command path to a built warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from trellis.config import TargetName, default_target, duckdb_settings
from trellis.ingest import ingest_files
from trellis.services import warehouse
from trellis.services.generate import generate
from trellis.storage import open_store

console = Console()

TargetOption = Annotated[
    str,
    typer.Option("--target", "-t", help="duckdb (embedded default) or postgres (PG* variables)."),
]


def _target(value: str) -> TargetName:
    if value not in ("duckdb", "postgres"):
        raise typer.BadParameter("choose duckdb or postgres", param_hint="--target")
    return value  # type: ignore[return-value]


def demo(
    requests: Annotated[int, typer.Option(help="How many requests to generate.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed of the generator (same seed, same traffic).")] = 7,
    out: Annotated[Path, typer.Option(help="Folder for the generated contract files.")] = Path(
        "demo-data"
    ),
    target: TargetOption = "duckdb",
) -> None:
    """Generate demo traffic, ingest it, build every model and print a summary."""
    name = _target(target)
    console.rule("1/3 generate")
    summary = generate(out, requests=requests, seed=seed)
    console.print(f"wrote {summary} to {out}/")
    console.rule("2/3 ingest")
    request_files = sorted(p for p in (out / "requests").iterdir() if p.is_file())
    feedback_files = sorted(p for p in (out / "feedback").iterdir() if p.is_file())
    with open_store(name) as store:
        for kind, files in (("requests", request_files), ("feedback", feedback_files)):
            report = ingest_files(store, kind, files)
            console.print(
                f"{kind}: {report.loaded} loaded, {report.duplicates} duplicates, "
                f"{report.total_quarantined} quarantined {dict(report.quarantined)}"
            )
    console.rule("3/3 dbt build")
    warehouse.run_dbt(["build"], name)
    _print_summary(name)


def build(
    select: Annotated[str | None, typer.Option(help="dbt selection, e.g. tag:lineage.")] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", "-t", help="duckdb or postgres (default: TRELLIS_TARGET)."),
    ] = None,
) -> None:
    """Run `dbt build` on the project (optionally a selection) and print a summary."""
    name = _target(target or default_target())
    warehouse.run_dbt(["build", *(["--select", select] if select else [])], name)
    _print_summary(name)


def _print_summary(target: TargetName) -> None:
    with open_store(target) as store:
        counts = warehouse.mart_row_counts(store)
    table = Table(title="marts")
    table.add_column("mart")
    table.add_column("rows", justify="right")
    for mart, rows in counts:
        table.add_row(mart, "not built" if rows is None else f"{rows:,}")
    console.print(table)
    if target == "duckdb":
        path = duckdb_settings().path.resolve()
        console.print(f"DuckDB warehouse: {path}")
        console.print(f"Open it with: duckdb {path}  (or a BI tool with DuckDB 1.5 or newer)")
        console.print(
            "Try: select * from lineage.conversation_sessions order by node_count desc limit 10;"
        )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(demo)
    app.command()(build)
