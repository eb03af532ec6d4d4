"""Judge as a library: read a manifest, plan it, run the cohort with the kit."""

from __future__ import annotations

from trellis.runners.judge.executor import JudgeExecutor
from trellis.runners.kit.cohort import CohortPlan, CohortRun, run_cohort
from trellis.runners.kit.db import Db
from trellis.runners.kit.worker import Progress


def run_judge(
    db: Db,
    plan: CohortPlan,
    progress: Progress | None = None,
    max_tasks: int | None = None,
    max_cost_usd: float | None = None,
) -> CohortRun:
    executor = JudgeExecutor(plan.endpoints, source="judge")
    return run_cohort(db, plan, executor, progress, max_tasks, max_cost_usd)
