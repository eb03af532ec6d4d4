"""`trellis generate` (trellis.cli hands its arguments to `app` when the demo extra is installed;
`python -m trellis_demo` runs it directly)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from trellis_demo.generate import DEFAULT_START, PROFILES, generate

_PROFILE_HELP = (
    "demo: every agent and edge case; chats: only 10-turn chats; "
    "agent-loops: only 500-turn agent loops with short messages."
)


def generate_command(
    out_dir: Annotated[Path, typer.Argument(help="Directory to write; created if missing.")],
    requests: Annotated[int, typer.Option("--requests", "-n", help="Valid unique requests.")] = (
        20_000
    ),
    seed: Annotated[int, typer.Option(help="Same seed and options, same bytes.")] = 7,
    tenants: Annotated[int, typer.Option(help="How many tenants (1 to 6).")] = 3,
    profile: Annotated[str, typer.Option(help=_PROFILE_HELP)] = "demo",
    start: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="First day of traffic (UTC).")
    ] = datetime(DEFAULT_START.year, DEFAULT_START.month, DEFAULT_START.day),
    days: Annotated[int, typer.Option(help="Days of traffic.")] = 30,
    max_loop_depth: Annotated[
        int, typer.Option(help="Deepest agent loop in the demo profile (at least 100).")
    ] = 400,
    malformed: Annotated[
        bool,
        typer.Option(
            "--malformed/--no-malformed",
            help="Also write malformed lines, duplicates and conflicts for ingest to catch.",
        ),
    ] = True,
) -> None:
    """Write demo LLM-gateway traffic with its true lineage and ingest counts."""
    if profile not in PROFILES:
        raise typer.BadParameter(f"choose one of {', '.join(PROFILES)}", param_hint="--profile")
    with Progress(
        TextColumn("generating"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} requests"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("generate", total=requests)
        summary = generate(
            out_dir,
            requests,
            seed,
            tenants=tenants,
            profile=profile,
            start=start.date(),
            days=days,
            max_loop_depth=max_loop_depth,
            malformed=malformed,
            progress=lambda done, _total: bar.update(task, completed=done),
        )
    quarantined = sum(summary.quarantined.values())
    typer.echo(
        f"wrote {summary.requests:,} requests, {summary.feedback:,} feedback, "
        f"{summary.exact_duplicates:,} duplicate and {quarantined:,} quarantinable lines "
        f"to {out_dir} ({summary.bytes_written / 1e6:,.1f} MB, "
        f"{summary.requests_per_second:,.0f} requests/s)"
    )
    if summary.truth_mismatches:
        typer.echo(
            f"warning: {summary.truth_mismatches} nodes differ between construction "
            "and the reference resolver",
            err=True,
        )


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command("generate")(generate_command)
