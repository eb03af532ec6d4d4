"""`trellis import FORMAT FILE...` (registered by trellis.cli)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from trellis.cli.ingest_cmd import Target, progress_by_source, report_table
from trellis.config import resolve_target
from trellis.errors import TrellisError
from trellis.importers import (
    FORMATS,
    ImportOptions,
    ImportResult,
    checked_files,
    import_files,
    import_stream,
)
from trellis.importers.common import IDENTITY_FIELDS
from trellis.storage import Store, open_store

_FORMAT_HELP = (
    "litellm (StandardLoggingPayload JSON/JSONL, LiteLLM_SpendLogs CSV/JSON), otel (OTLP/JSON), "
    "langfuse (observations and scores), openai-batch (input and output files), "
    "chatgpt (conversations.json)."
)


def register(app: typer.Typer) -> None:
    """Add this module's command to the app."""
    app.command("import", no_args_is_help=True)(import_command)


def import_command(
    format_name: Annotated[str, typer.Argument(metavar="FORMAT", help=_FORMAT_HELP)],
    files: Annotated[
        list[Path] | None, typer.Argument(help="Input files (.gz too).", show_default=False)
    ] = None,
    target: Target = None,
    tenant: Annotated[
        str, typer.Option(help="Tenant of every record, unless --tenant-from finds one.")
    ] = "default",
    agent: Annotated[
        str | None, typer.Option(help="Agent of every record, unless --agent-from finds one.")
    ] = None,
    tenant_from: Annotated[
        str | None,
        typer.Option(
            help="litellm: identity fields that give the tenant, first set wins, comma-separated "
            f"({', '.join(IDENTITY_FIELDS)}).",
        ),
    ] = None,
    agent_from: Annotated[
        str,
        typer.Option(help="litellm: identity fields that give the agent, first set wins."),
    ] = "key_alias,user_id",
    from_postgres: Annotated[
        str | None,
        typer.Option(
            "--from-postgres",
            metavar="DSN",
            help="litellm: read LiteLLM_SpendLogs from LiteLLM's PostgreSQL (read-only).",
        ),
    ] = None,
) -> None:
    """Import logs that gateways and tools already write (docs/importers.md)."""
    options = ImportOptions(
        tenant=tenant,
        agent=agent,
        tenant_from=_fields(tenant_from),
        agent_from=_fields(agent_from),
    )
    chosen = resolve_target(target)
    if from_postgres is None:
        checked_files(format_name, files or [])  # a typo fails before the target is opened
    console = Console(stderr=True)
    with (
        open_store(chosen) as store,
        progress_by_source(console, "records") as (_, on_progress),
    ):
        result = _run(store, format_name, files or [], options, from_postgres, on_progress)
    _print(format_name, chosen, result)


def _run(
    store: Store,
    format_name: str,
    files: list[Path],
    options: ImportOptions,
    from_postgres: str | None,
    on_progress: Callable[[str, int], None],
) -> ImportResult:
    if from_postgres is None:
        return import_files(store, format_name, files, options, on_progress)
    if format_name != "litellm":
        raise TrellisError("--from-postgres reads LiteLLM's spend logs: use it with litellm")
    if files:
        raise TrellisError("give either files or --from-postgres, not both")
    from trellis.importers import Stream
    from trellis.importers.litellm import spend_log_rows

    source, items = spend_log_rows(from_postgres, options)
    return import_stream(store, iter([Stream("requests", source, items)]), on_progress)


def _fields(value: str | None) -> tuple[str, ...]:
    names = tuple(name.strip() for name in (value or "").split(",") if name.strip())
    unknown = [name for name in names if name not in IDENTITY_FIELDS]
    if unknown:
        raise TrellisError(
            f"unknown identity field {unknown[0]!r}: choose from {', '.join(IDENTITY_FIELDS)}"
        )
    return names


def _print(format_name: str, target: str, result: ImportResult) -> None:
    out = Console()
    for kind in ("requests", "feedback"):
        report = result.reports.get(kind)
        if report is None:
            continue
        # scores are rare: no feedback table for an import that had none
        empty = not (report.loaded or report.duplicates or report.total_quarantined)
        if kind == "requests" or not empty:
            out.print(report_table(f"{format_name} {kind}", target, report))
    if result.skipped:
        table = Table(title="skipped (not calls)", title_justify="left")
        table.add_column("what")
        table.add_column("records", justify="right")
        for what, count in sorted(result.skipped.items()):
            table.add_row(what, f"{count:,}")
        out.print(table)


__all__ = ["FORMATS", "register"]
