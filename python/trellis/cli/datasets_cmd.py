"""`trellis freeze`, `trellis snapshots`, `trellis export` (registered by trellis.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from trellis.config import resolve_target
from trellis.datasets import export as export_service
from trellis.datasets import freeze as freeze_service
from trellis.datasets import retention
from trellis.datasets.iceberg import catalog_kind
from trellis.services.warehouse import run_dbt

CatalogOption = Annotated[
    str | None,
    typer.Option(
        "--catalog",
        help="Iceberg SQL catalog: sqlite (a file beside the frozen data) or postgres"
        " [default: TRELLIS_ICEBERG_CATALOG or sqlite]",
        show_default=False,
    ),
]


def register(app: typer.Typer) -> None:
    app.command("freeze")(freeze)
    app.command("snapshots")(snapshots)
    app.command("export")(export)
    app.command("purge")(purge)
    app.command("erase")(erase)


Target = Annotated[
    str | None,
    typer.Option(
        "--target",
        "-t",
        help="duckdb or postgres [default: TRELLIS_TARGET or duckdb]",
        show_default=False,
    ),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")]
NoRebuild = Annotated[
    bool,
    typer.Option(
        "--no-rebuild",
        help="Do not run `dbt build --full-refresh -s source:gateway+ resource_type:seed`"
        " afterwards"
        " (derived rows then stay until you do).",
    ),
]


def _bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def freeze(
    dataset: Annotated[str, typer.Argument(help="A built dataset (table name or schema.table).")],
    name: Annotated[
        str | None, typer.Option("--name", help="Snapshot name [default: the table's name].")
    ] = None,
    catalog: CatalogOption = None,
) -> None:
    """Freeze a dataset: Parquet, an Iceberg snapshot, a registry row (unchanged: a no-op)."""
    console = Console(stderr=True)
    with _bar(console) as bar:
        tasks: dict[str, TaskID] = {}

        def report(stage: str, fraction: float) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=1.0)
            bar.update(tasks[stage], completed=fraction)

        result = freeze_service.freeze(dataset, name, catalog_kind(catalog), report)
    snap = result.snapshot
    if result.unchanged:
        typer.echo(f"unchanged: {snap.dataset_name} is already frozen as {snap.snapshot_id}")
        return
    typer.echo(
        f"froze {snap.source_relation} as {snap.snapshot_id}: {snap.row_count} rows,"
        f" {snap.bytes} bytes, {snap.location} (Iceberg {snap.iceberg_table}"
        f" snapshot {snap.iceberg_snapshot_id})"
    )


def snapshots() -> None:
    """List frozen snapshots."""
    con = freeze_service.open_warehouse()
    try:
        rows = freeze_service.list_snapshots(con)
    finally:
        con.close()
    table = Table("snapshot", "rows", "bytes", "created (UTC)", "parent")
    for snap in rows:
        table.add_row(
            snap.snapshot_id,
            str(snap.row_count),
            str(snap.bytes),
            f"{snap.created_at:%Y-%m-%d %H:%M:%S}",
            snap.parent_snapshot_id or "",
        )
    Console().print(table)


def export(
    snapshot: Annotated[str, typer.Argument(help="Snapshot id, or a dataset name (its latest).")],
    out: Annotated[Path, typer.Argument(help="Output file (trl, openai) or folder (hf).")],
    export_format: Annotated[str, typer.Option("--format", help="trl, openai or hf.")] = "trl",
) -> None:
    """Export a frozen snapshot for TRL, OpenAI fine-tuning or Hugging Face datasets."""
    console = Console(stderr=True)
    with _bar(console) as bar:
        task = bar.add_task("export", total=None)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = export_service.export(snapshot, export_format, out, report)
    typer.echo(
        f"exported {result.snapshot_id} as {export_format}: {result.rows_written} rows,"
        f" {result.bytes} bytes, {result.path}"
    )
    if result.rows_rejected:
        reasons = ", ".join(f"{reason} ({n})" for reason, n in result.reasons.most_common())
        typer.echo(
            f"rejected {result.rows_rejected} rows that break the {export_format} rules,"
            f" listed in {out}.rejected.jsonl: {reasons}"
        )


def purge(target: Target = None, dry_run: DryRun = False, no_rebuild: NoRebuild = False) -> None:
    """Delete raw facts older than their tenant's retention_days (seed tenant_data_policies)."""
    chosen = resolve_target(target)
    removal = retention.purge(chosen, dry_run=dry_run)
    _report(removal)
    _rebuild(removal, chosen, no_rebuild)


def erase(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Erase a tenant's facts.")] = None,
    request_id: Annotated[
        str | None,
        typer.Option("--request-id", help="Erase a request and its descendants in the tree."),
    ] = None,
    target: Target = None,
    dry_run: DryRun = False,
    no_rebuild: NoRebuild = False,
) -> None:
    """Erase a tenant or a request: raw facts, then everything derived (a full rebuild)."""
    chosen = resolve_target(target)
    removal = retention.erase(chosen, tenant_id=tenant, request_id=request_id, dry_run=dry_run)
    _report(removal)
    _rebuild(removal, chosen, no_rebuild)


def _report(removal: retention.Removal) -> None:
    verb = "would remove" if removal.dry_run else "removed"
    by_tenant = ", ".join(f"{t} {n}" for t, n in sorted(removal.requests.items())) or "none"
    typer.echo(
        f"{removal.kind}: {verb} {removal.total_requests} requests ({by_tenant}),"
        f" {removal.feedback} feedback, {removal.quarantine} quarantined lines"
    )
    for snapshot_id, examples in sorted(removal.snapshots.items()):
        typer.echo(
            f"frozen snapshot {snapshot_id} holds {examples} examples of these facts"
            " (files are immutable: freeze the dataset again after the rebuild)"
        )
    if not removal.dry_run:
        typer.echo(f"recorded as {removal.erasure_id} in raw.erasure_requests")


def _rebuild(removal: retention.Removal, target: str, no_rebuild: bool) -> None:
    if removal.dry_run or removal.total_requests + removal.quarantine == 0:
        return
    command = " ".join(retention.REBUILD_ARGS)
    if no_rebuild:
        typer.echo(f"derived rows remain until you run: dbt {command} --target {target}")
        return
    run_dbt(list(retention.REBUILD_ARGS), resolve_target(target))
