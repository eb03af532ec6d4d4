"""`trellis demo`, `trellis build`, `trellis sql` and (with the demo extra) `trellis generate`.

The demo traffic generator is not part of the product: it lives in
`trellis_demo` (the `[demo]` extra). `trellis demo` is a thin command over
it and says in one line how to install it when it is missing.
"""

from __future__ import annotations

import importlib
import shlex
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from trellis.config import TargetName, duckdb_settings, resolve_target
from trellis.errors import TrellisError
from trellis.services import warehouse
from trellis.services.shell import run_sql
from trellis.storage import open_store

# soft_wrap: a long line (a command to copy) is never broken in two
console = Console(soft_wrap=True)

TargetOption = Annotated[
    str | None,
    typer.Option(
        "--target",
        "-t",
        help="duckdb or postgres [default: TRELLIS_TARGET or duckdb]",
        show_default=False,
    ),
]
_MISSING_DEMO = (
    "the demo generator is not installed: pip install 'trellis[demo]' (or `make install`)"
)
TRY_QUERY = (
    "select agent_id, cost_date, cost_usd, threshold_usd from costs.cost_anomalies "
    "order by cost_date limit 10"
)


def _demo_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == "trellis_demo":
            raise TrellisError(_MISSING_DEMO) from None
        raise


def _reasons(quarantined: dict[str, int]) -> str:
    return ", ".join(f"{count:,} {reason}" for reason, count in sorted(quarantined.items()))


def demo(
    requests: Annotated[int, typer.Option(help="How many requests to generate.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed of the generator (same seed, same traffic).")] = 7,
    out: Annotated[Path, typer.Option(help="Folder for the generated contract files.")] = Path(
        "demo-data"
    ),
    target: TargetOption = None,
) -> None:
    """Generate demo traffic, ingest it, build every model and print a summary."""
    name = resolve_target(target)
    generate = _demo_module("trellis_demo.generate").generate
    from trellis.ingest import ingest_files

    console.rule("1/3 generate")
    summary = generate(out, requests=requests, seed=seed)
    console.print(
        f"wrote {summary.requests:,} requests and {summary.feedback:,} feedback records to {out}/"
    )
    console.rule("2/3 ingest")
    with open_store(name) as store:
        for kind in ("requests", "feedback"):
            files = sorted(p for p in (out / kind).iterdir() if p.is_file())
            report = ingest_files(store, kind, files)
            line = f"{kind}: {report.loaded:,} loaded, {report.duplicates:,} duplicates"
            if report.total_quarantined:
                line += f", {report.total_quarantined:,} quarantined "
                line += f"({_reasons(dict(report.quarantined))})"
            console.print(line, markup=False, highlight=False)
    console.rule("3/3 dbt build")
    warehouse.run_dbt(["build"], name)
    _print_summary(name)


def build(
    select: Annotated[str | None, typer.Option(help="dbt selection, e.g. tag:lineage.")] = None,
    target: TargetOption = None,
) -> None:
    """Run `dbt build` on the project (optionally a selection) and print a summary."""
    name = resolve_target(target)
    warehouse.run_dbt(["build", *(["--select", select] if select else [])], name)
    _print_summary(name)


def sql(
    query: Annotated[str, typer.Argument(help="One SQL statement, e.g. 'select 1'.")],
    target: TargetOption = None,
    limit: Annotated[int, typer.Option(help="Rows to print at most.", min=1)] = 100,
) -> None:
    """Run one SQL statement on the warehouse and print the rows (DuckDB is opened read-only)."""
    result = run_sql(resolve_target(target), query, limit)
    table = Table(*result.columns)
    for row in result.rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


def _self_command() -> str:
    """How to run this same `trellis` from here: `trellis` when it is the one on PATH, else
    its path (e.g. `.venv/bin/trellis` after `make demo`, with no virtualenv activated)."""
    exe = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if exe is None or not exe.is_file():
        return "trellis"
    on_path = shutil.which("trellis")
    if on_path is not None and Path(on_path).resolve() == exe:
        return "trellis"
    try:
        return shlex.quote(str(exe.relative_to(Path.cwd())))
    except ValueError:
        return shlex.quote(str(exe))


def _print_summary(target: TargetName) -> None:
    with open_store(target) as store:
        counts = warehouse.mart_row_counts(store)
        highlights = warehouse.highlights(store)
    table = Table(title="marts")
    table.add_column("mart")
    table.add_column("rows", justify="right")
    for mart, rows in counts:
        if rows is None:
            shown = "not built"
        elif rows == 0 and mart in warehouse.FILLED_BY:
            shown = f"0, waits for {warehouse.FILLED_BY[mart]}"
        else:
            shown = f"{rows:,}"
        table.add_row(mart, shown)
    console.print(table)
    for line in highlights:
        console.print(line, markup=False, highlight=False)
    where = f" --target {target}" if target != "duckdb" else ""
    if target == "duckdb":
        console.print(f"DuckDB warehouse: {duckdb_settings().path.resolve()}", markup=False)
    console.print("Explore it:", markup=False)
    command = f"{_self_command()} sql{where} {shlex.quote(TRY_QUERY)}"
    console.print(f"  {command}", markup=False, highlight=False)


def generate(ctx: typer.Context) -> None:
    """Write demo gateway traffic with its true lineage (from the optional demo extra)."""
    cli: Any = _demo_module("trellis_demo.cli")
    cli.app(args=ctx.args, prog_name="trellis generate")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command()(demo)
    app.command()(build)
    app.command()(sql)
    app.command(
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )(generate)
