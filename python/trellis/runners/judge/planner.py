"""Plan judge tasks: one per (template, judge model, target), priced from the warehouse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trellis.runners.judge.manifest import JudgeManifest
from trellis.runners.judge.targets import select_targets
from trellis.runners.kit.cohort import CohortPlan, Estimate, estimate_tokens
from trellis.runners.kit.db import Db
from trellis.runners.kit.ids import stable_id
from trellis.runners.kit.joblog import NewTask
from trellis.runners.kit.prices import PriceBook

JUDGE_OUTPUT_TOKENS = 512


def plan_judge(
    db: Db,
    manifest: JudgeManifest,
    raw_manifest: Mapping[str, Any] | None = None,
    prices: PriceBook | None = None,
) -> CohortPlan:
    """The cohort's tasks and estimate; `details` holds target_count and target_kind."""
    cohort_id = manifest.cohort_id
    spec = manifest.file.targets
    targets = select_targets(db, spec.kind, list(spec.ids), spec.where, spec.limit)
    book = prices or PriceBook(db)
    tasks: list[NewTask] = []
    input_tokens = output_tokens = 0
    cost = 0.0
    unpriced: set[str] = set()
    for template in manifest.templates:
        for target in targets:
            messages = template.render(target.variables)
            for judge in manifest.file.judges:
                sampling = judge.sampling.as_dict()
                task_id = stable_id(
                    "task",
                    cohort_id,
                    template.template_id,
                    template.version,
                    judge.model,
                    sampling,
                    target.kind,
                    target.target_id,
                    target.request_id,
                )
                out = int(sampling.get("max_tokens") or JUDGE_OUTPUT_TOKENS)
                tokens_in = estimate_tokens(messages)
                input_tokens += tokens_in
                output_tokens += out
                price = book.cost(judge.model, tokens_in, out)
                if price is None:
                    unpriced.add(judge.model)
                else:
                    cost += price
                tasks.append(
                    NewTask(
                        task_id,
                        "judge",
                        {
                            "kind": "judge",
                            "cohort_id": cohort_id,
                            "feedback_id": stable_id("judge", task_id),
                            "request_id": target.request_id,
                            "tenant_id": target.tenant_id,
                            "agent_id": target.agent_id,
                            "target": {"kind": target.kind, "id": target.target_id},
                            "template_id": template.template_id,
                            "template_version": template.version,
                            "parser": template.parser,
                            "judge_model": judge.model,
                            "body": {
                                "model": judge.model,
                                "messages": messages,
                                **sampling,
                                "stream": False,
                            },
                            "estimated_tokens": tokens_in + out,
                        },
                        tokens_in + out,
                    )
                )
    endpoints, no_endpoint = manifest.endpoints_by_model()
    return CohortPlan(
        cohort_id=cohort_id,
        kind="judge",
        name=manifest.file.name,
        manifest=raw_manifest or {},
        tasks=tasks,
        endpoints=endpoints,
        settings=manifest.file.run,
        estimate=Estimate(
            calls=len(tasks),
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=None if unpriced else round(cost, 6),
            unpriced_models=tuple(sorted(unpriced)),
        ),
        details={"target_count": len(targets), "target_kind": spec.kind},
        no_endpoint=no_endpoint,
    )
