"""Judge as a library: plan a judge manifest, write it ahead into the job log, work the queue."""

from __future__ import annotations

from trellis.services.judge.manifest import JudgeManifest
from trellis.services.judge.runner import JudgeExecutor, JudgePlan, plan_judge
from trellis.services.replay.db import Db
from trellis.services.replay.joblog import JobLog
from trellis.services.replay.runner import Progress, RunSummary
from trellis.services.replay.service import check_reachable, work


def enqueue_judge(
    db: Db, manifest: JudgeManifest, plan: JudgePlan, raw_manifest: dict[str, object]
) -> int:
    joblog = JobLog(db, "planner")
    joblog.ensure()
    joblog.register_cohort(plan.cohort_id, "judge", manifest.name, raw_manifest)
    return joblog.enqueue(plan.cohort_id, plan.tasks)


def run_judge(
    db: Db,
    manifest: JudgeManifest,
    raw_manifest: dict[str, object],
    progress: Progress | None = None,
    max_tasks: int | None = None,
) -> tuple[JudgePlan, int, RunSummary]:
    plan = plan_judge(db, manifest)
    new = enqueue_judge(db, manifest, plan, raw_manifest)
    endpoints = {j.model: manifest.endpoint_for(j.model) for j in manifest.judges}
    check_reachable(endpoints.values())
    executor = JudgeExecutor(endpoints, source=f"judge:{plan.cohort_id}")
    summary = work(db, plan.cohort_id, executor, endpoints, manifest.run, progress, max_tasks)
    return plan, new, summary
