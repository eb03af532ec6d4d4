"""`trellis replay` and `trellis judge` (registered by trellis.cli).

Both print the plan and its estimated cost before anything is sent;
`--max-cost` refuses to start above a ceiling; `--plan` and `--dry-run`
send nothing and write nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from trellis.config import resolve_target
from trellis.runners.judge.manifest import read_judge_manifest
from trellis.runners.judge.planner import plan_judge
from trellis.runners.judge.service import run_judge
from trellis.runners.kit.cohort import CohortPlan, CohortRun
from trellis.runners.kit.worker import RunSummary
from trellis.runners.replay.manifest import read_manifest
from trellis.runners.replay.service import plan, run_replay
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
MaxCost = Annotated[
    float | None,
    typer.Option(
        "--max-cost",
        help="Refuse to start when the estimated cost (USD) is above this, or unknown.",
        min=0,
    ),
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


def _print_plan(console: Console, the_plan: CohortPlan) -> None:
    estimate = the_plan.estimate
    if estimate.cost_usd is not None:
        cost = f"${estimate.cost_usd:,.4f}"
    else:
        cost = f"unknown (no price in force for {', '.join(estimate.unpriced_models)})"
    if the_plan.kind == "judge":
        kind = the_plan.details["target_kind"]
        scope = f"{the_plan.details['target_count']:,} {_PLURAL[kind]}"
    else:
        scope = f"{the_plan.details['node_count']:,} nodes"
    console.print(
        f"cohort {the_plan.cohort_id}: {len(the_plan.tasks):,} tasks over {scope}, "
        f"{estimate.calls:,} calls, ~{estimate.input_tokens:,} input + "
        f"~{estimate.output_tokens:,} output tokens, estimated cost {cost}",
        markup=False,
        highlight=False,
    )


def _print_endpoints(console: Console, the_plan: CohortPlan) -> None:
    for model, endpoint in sorted(the_plan.endpoints.items()):
        key = f", key from ${endpoint.api_key_env}" if endpoint.api_key_env else ""
        console.print(f"model {model}: {endpoint.base_url}{key}", markup=False, highlight=False)
    for model in the_plan.no_endpoint:
        console.print(
            f"model {model}: no endpoint (add it under `endpoints:` or set TRELLIS_GATEWAY_URL)",
            markup=False,
            highlight=False,
        )


def _print_summary(console: Console, summary: RunSummary) -> None:
    console.print(
        f"cohort {summary.cohort_id}: {summary.done:,} done, {summary.failed:,} failed, "
        f"{summary.remaining:,} remaining; {summary.tokens:,} tokens, {summary.calls_made:,} calls "
        f"in {summary.seconds:.1f}s ({summary.rate:,.0f} tasks/s)",
        markup=False,
        highlight=False,
    )
    for task_id, error in summary.errors:
        console.print(f"  failed {task_id}: {error}", markup=False, highlight=False)


def _first_request(tasks: list[Any]) -> str:
    if not tasks:
        return "(no tasks)"
    payload = tasks[0].payload
    body = payload.get("body") or {
        "model": payload["model"],
        "messages": payload["steps"][0]["messages"],
        **payload["steps"][0]["params"],
        "stream": False,
    }
    return json.dumps(body, indent=2, ensure_ascii=False)[:4000]


def _finish(out: Console, the_plan: CohortPlan, run: CohortRun) -> None:
    _print_summary(out, run.summary)
    if run.summary.failed:
        raise typer.Exit(1)


def replay(
    manifest: ManifestArg,
    target: Target = None,
    plan_only: PlanOnly = False,
    dry_run: DryRun = False,
    stale: Stale = False,
    max_tasks: MaxTasks = None,
    max_cost: MaxCost = None,
) -> None:
    """Re-run logged calls under model, sampling, prompt or tool variants."""
    name = resolve_target(target)
    parsed, raw = read_manifest(manifest, stale=stale)
    out = Console(soft_wrap=True)
    with open_store(name) as store:
        the_plan = plan(store, parsed, raw)
        _print_plan(out, the_plan)
        if plan_only or dry_run:
            if dry_run:
                _print_endpoints(out, the_plan)
                out.print(_first_request(the_plan.tasks), markup=False, highlight=False)
            return
        progress = RichProgress(Console(stderr=True))
        with progress.bar:
            run = run_replay(store, the_plan, progress, max_tasks, max_cost)
    _finish(out, the_plan, run)


def judge(
    manifest: ManifestArg,
    target: Target = None,
    plan_only: PlanOnly = False,
    dry_run: DryRun = False,
    max_tasks: MaxTasks = None,
    max_cost: MaxCost = None,
) -> None:
    """Score trajectories or response groups with judge templates x judge models."""
    name = resolve_target(target)
    parsed, raw = read_judge_manifest(manifest)
    out = Console(soft_wrap=True)
    with open_store(name) as store:
        the_plan = plan_judge(store, parsed, raw)
        _print_plan(out, the_plan)
        if plan_only or dry_run:
            if dry_run:
                _print_endpoints(out, the_plan)
                out.print(_first_request(the_plan.tasks), markup=False, highlight=False)
            return
        progress = RichProgress(Console(stderr=True))
        with progress.bar:
            run = run_judge(store, the_plan, progress, max_tasks, max_cost)
    _finish(out, the_plan, run)
