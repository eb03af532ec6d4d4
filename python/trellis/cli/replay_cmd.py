"""`trellis replay` and `trellis judge` (registered by trellis.cli)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from trellis.config import resolve_target
from trellis.services.judge.manifest import parse_judge_manifest
from trellis.services.judge.runner import plan_judge
from trellis.services.judge.service import run_judge
from trellis.services.replay.manifest import load_yaml, parse_manifest
from trellis.services.replay.planner import Plan
from trellis.services.replay.runner import RunSummary
from trellis.services.replay.service import plan, run_replay
from trellis.storage import open_store

ManifestArg = Annotated[Path, typer.Argument(help="Cohort manifest (YAML).", show_default=False)]
Target = Annotated[
    str | None,
    typer.Option(
        "--target",
        "-t",
        help="duckdb or postgres [default: TRELLIS_TARGET or duckdb]",
        show_default=False,
    ),
]
PlanOnly = Annotated[
    bool, typer.Option("--plan", help="Print tasks, tokens and estimated cost; send nothing.")
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Plan and show the first request; write and send nothing.")
]
MaxTasks = Annotated[
    int | None, typer.Option("--max-tasks", help="Stop after this many tasks.", min=1)
]
Stale = Annotated[
    bool,
    typer.Option(
        "--stale",
        help="Replay nodes served by an old model snapshot or taskification rule (subtree mode).",
    ),
]


def register(app: typer.Typer) -> None:
    """Add this module's commands to the app."""
    app.command("replay")(replay)
    app.command("judge")(judge)


class RichProgress:
    """Done / failed / remaining and tokens, on stderr."""

    def __init__(self, console: Console) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn(
                "done {task.fields[done]:,}  failed {task.fields[failed]:,}  "
                "remaining {task.fields[remaining]:,}  tokens {task.fields[tokens]:,}"
            ),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.bar.add_task("tasks", total=None, done=0, failed=0, remaining=0, tokens=0)
        self.done = self.failed = self.remaining = self.tokens = 0

    def start(self, total: int, done: int, failed: int) -> None:
        self.done, self.failed, self.remaining = done, failed, total - done - failed
        self._show(total)

    def advance(self, ok: bool, tokens: int) -> None:
        self.done += ok
        self.failed += not ok
        self.remaining = max(0, self.remaining - 1)
        self.tokens += tokens
        self._show()

    def _show(self, total: int | None = None) -> None:
        if total is not None:
            self.bar.update(self.task, total=total)
        self.bar.update(
            self.task,
            completed=self.done + self.failed,
            done=self.done,
            failed=self.failed,
            remaining=self.remaining,
            tokens=self.tokens,
        )


_PLURAL = {"trajectory": "trajectories", "response": "responses"}


def _print_plan(console: Console, the_plan: Plan) -> None:
    cost = "unknown" if the_plan.cost_usd is None else f"${the_plan.cost_usd:,.4f}"
    console.print(
        f"cohort {the_plan.cohort_id}: {len(the_plan.tasks):,} tasks over "
        f"{the_plan.node_count:,} nodes, {the_plan.calls:,} calls, "
        f"~{the_plan.input_tokens:,} input + ~{the_plan.output_tokens:,} output tokens, "
        f"estimated cost {cost}"
    )
    if the_plan.unpriced_models:
        console.print(f"no price for: {', '.join(the_plan.unpriced_models)}")


def _print_summary(console: Console, summary: RunSummary) -> None:
    console.print(
        f"cohort {summary.cohort_id}: {summary.done:,} done, {summary.failed:,} failed, "
        f"{summary.remaining:,} remaining; {summary.tokens:,} tokens, {summary.calls_made:,} calls "
        f"in {summary.seconds:.1f}s ({summary.rate:,.0f} tasks/s)"
    )
    for task_id, error in summary.errors:
        console.print(f"  failed {task_id}: {error}")


def _first_request(tasks: list[Any]) -> str:
    if not tasks:
        return "(no tasks)"
    payload = tasks[0].payload
    body = payload.get("body") or {
        "model": payload["model"],
        "messages": payload["steps"][0]["messages"],
        **payload["steps"][0]["params"],
    }
    return json.dumps(body, indent=2, ensure_ascii=False)[:4000]


def replay(
    manifest: ManifestArg,
    target: Target = None,
    plan_only: PlanOnly = False,
    dry_run: DryRun = False,
    stale: Stale = False,
    max_tasks: MaxTasks = None,
) -> None:
    """Re-run logged calls under model, sampling, prompt or tool variants."""
    raw = load_yaml(manifest)
    parsed = parse_manifest(raw, str(manifest), stale=stale)
    out = Console(soft_wrap=True)
    with open_store(resolve_target(target)) as store:
        if plan_only or dry_run:
            the_plan = plan(store, parsed)
            _print_plan(out, the_plan)
            if dry_run:
                for variant in parsed.variants:
                    out.print(
                        f"variant {variant.name}: {variant.model} at "
                        f"{parsed.endpoint_for(variant.model).base_url}"
                    )
                out.print(_first_request(the_plan.tasks), markup=False, highlight=False)
            return
        err = Console(stderr=True)
        progress = RichProgress(err)
        with progress.bar:
            enqueued, summary = run_replay(store, parsed, raw, progress, max_tasks)
    _print_plan(out, enqueued.plan)
    _print_summary(out, summary)
    if summary.failed:
        raise typer.Exit(1)


def judge(
    manifest: ManifestArg,
    target: Target = None,
    plan_only: PlanOnly = False,
    dry_run: DryRun = False,
    max_tasks: MaxTasks = None,
) -> None:
    """Score trajectories or response groups with judge templates x judge models."""
    raw = load_yaml(manifest)
    parsed = parse_judge_manifest(raw, manifest.parent, str(manifest))
    out = Console(soft_wrap=True)
    with open_store(resolve_target(target)) as store:
        if plan_only or dry_run:
            the_plan = plan_judge(store, parsed)
            out.print(
                f"cohort {the_plan.cohort_id}: {len(the_plan.tasks):,} judge calls over "
                f"{the_plan.target_count:,} {_PLURAL[parsed.target_kind]}, "
                f"~{the_plan.input_tokens:,} input + "
                f"~{the_plan.output_tokens:,} output tokens"
            )
            if dry_run:
                out.print(_first_request(the_plan.tasks), markup=False, highlight=False)
            return
        progress = RichProgress(Console(stderr=True))
        with progress.bar:
            the_plan, _, summary = run_judge(store, parsed, raw, progress, max_tasks)
    _print_summary(out, summary)
    if summary.failed:
        raise typer.Exit(1)
