"""The `trellis` command: a thin shell over trellis.services and trellis.runners.

Each sub-module registers its commands on the one Typer app. Errors meant for
users (TrellisError) are printed as one line, with a non-zero exit, never a
traceback. Files the command creates are private to their owner unless
TRELLIS_UMASK says otherwise (trellis.config.apply_umask).
"""

from __future__ import annotations

import sys

import typer

from trellis.config import apply_umask
from trellis.errors import TrellisError

app = typer.Typer(
    name="trellis",
    help="Analytics warehouse for LLM gateway traffic: ingest, build, replay, judge.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Registration order is the order of `trellis --help`.
from trellis.cli import (  # noqa: E402
    datasets_cmd,
    demo_cmd,
    follow_cmd,
    import_cmd,
    ingest_cmd,
    replay_cmd,
    report_cmd,
    review_cmd,
    tenant_cmd,
)

for module in (
    ingest_cmd,
    follow_cmd,
    import_cmd,
    demo_cmd,
    replay_cmd,
    review_cmd,
    report_cmd,
    datasets_cmd,
    tenant_cmd,
):
    module.register(app)


def main() -> None:
    try:
        apply_umask()
        app()
    except TrellisError as exc:
        typer.echo(f"trellis: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("trellis: interrupted", err=True)
        sys.exit(130)
