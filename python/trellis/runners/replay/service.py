"""Replay as a library: read a manifest, plan it, run the cohort with the kit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trellis.runners.kit.cohort import CohortPlan, CohortRun, run_cohort
from trellis.runners.kit.db import Db
from trellis.runners.kit.worker import Progress
from trellis.runners.replay.executor import ReplayExecutor
from trellis.runners.replay.manifest import ReplayManifest
from trellis.runners.replay.planner import plan_replay


def plan(db: Db, manifest: ReplayManifest, raw: Mapping[str, Any] | None = None) -> CohortPlan:
    return plan_replay(db, manifest, raw)


def run_replay(
    db: Db,
    the_plan: CohortPlan,
    progress: Progress | None = None,
    max_tasks: int | None = None,
    max_cost_usd: float | None = None,
) -> CohortRun:
    executor = ReplayExecutor(the_plan.endpoints, source=f"replay:{the_plan.cohort_id}")
    return run_cohort(db, the_plan, executor, progress, max_tasks, max_cost_usd)
