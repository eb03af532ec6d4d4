"""`trellis review export|import` (registered by trellis.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trellis.config import resolve_target
from trellis.services.review.service import export_reviews, import_reviews
from trellis.services.review.tasks import FORMATS
from trellis.storage import open_store

review_app = typer.Typer(
    help="Human review: export the sample queue for a labelling tool, import the labels.",
    no_args_is_help=True,
)
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
    app.add_typer(review_app, name="review")


@review_app.command("export")
def export(
    out: Annotated[Path, typer.Argument(help="Output file.", show_default=False)],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"One of: {', '.join(FORMATS)}.")
    ] = "label-studio",
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most this many tasks.")
    ] = None,
    target: Target = None,
) -> None:
    """Write evaluation.human_sample_queue as review tasks (Label Studio JSON, JSONL, CSV)."""
    with open_store(resolve_target(target)) as store:
        count = export_reviews(store, fmt, out, limit)
    typer.echo(f"wrote {count:,} review tasks to {out} ({fmt})")


@review_app.command("import")
def import_(
    file: Annotated[
        Path, typer.Argument(help="Label Studio JSON export, JSONL or CSV.", show_default=False)
    ],
    target: Target = None,
) -> None:
    """Append the reviews as human feedback (source human); bad rows are quarantined."""
    with open_store(resolve_target(target)) as store:
        result = import_reviews(store, file)
    report = result.ingest
    reasons = ", ".join(f"{r} {n:,}" for r, n in sorted(result.quarantined.items())) or "none"
    typer.echo(
        f"reviews: loaded {report.loaded:,}, duplicates {report.duplicates:,}, "
        f"quarantined {sum(result.quarantined.values()):,} ({reasons}), "
        f"cancelled {result.cancelled:,}"
    )
