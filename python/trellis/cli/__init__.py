"""The `trellis` command: a thin shell over trellis.services.

Each sub-module registers its commands on the one Typer app. Errors meant for
users (TrellisError) are printed as one line, with a non-zero exit, never a
traceback.
"""

from __future__ import annotations

import sys

import typer

from trellis.errors import TrellisError

app = typer.Typer(
    name="trellis",
    help="Analytics warehouse for LLM gateway traffic: ingest, generate, replay, judge.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Registration order is the order of `trellis --help`.
from trellis.cli import (  # noqa: E402
    datasets_cmd,
    demo_cmd,
    generate_cmd,
    ingest_cmd,
    replay_cmd,
    review_cmd,
)

for module in (ingest_cmd, generate_cmd, demo_cmd, replay_cmd, review_cmd, datasets_cmd):
    module.register(app)


def main() -> None:
    try:
        app()
    except TrellisError as exc:
        typer.echo(f"trellis: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("trellis: interrupted", err=True)
        sys.exit(130)
