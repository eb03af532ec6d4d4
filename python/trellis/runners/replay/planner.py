"""From a manifest and the nodes it selects to replay tasks, frozen into the job log.

A task is one (node, variant, sample). Everything its execution needs (the
request bodies, the lineage of the records to write) is decided here and
stored with the task, so running it reads nothing but the job log.

- `node` mode: one step, node X's frozen context (`request.messages`) under
  the variant; the record's parent is X's parent, so the replay is X's sibling.
- `subtree` mode: one step per node of X's subtree, parents before children.
  Each regenerated node's context is its regenerated parent's context, the
  parent's new reply, then the user and tool turns the original node added.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trellis.errors import TrellisError
from trellis.runners.kit.cohort import CohortPlan, Estimate, estimate_tokens
from trellis.runners.kit.db import Db
from trellis.runners.kit.http_client import TRANSPORT_KEYS
from trellis.runners.kit.ids import stable_id
from trellis.runners.kit.joblog import NewTask
from trellis.runners.kit.nodes import (
    Node,
    children_map,
    load_nodes,
    load_trees,
    select_node_ids,
)
from trellis.runners.kit.prices import PriceBook
from trellis.runners.kit.templating import render
from trellis.runners.replay.manifest import ReplayManifest, Variant
from trellis.runners.replay.stale import CurrentVersions, stale_node_ids

DEFAULT_OUTPUT_TOKENS = 256
#: Settings of the original call that a replay never repeats (one answer per call).
_DROPPED_PARAMS = TRANSPORT_KEYS | {"n"}


def render_system_prompt(template: str, node: Node, variant: Variant) -> str:
    original = next((m.get("content") for m in node.messages if m.get("role") == "system"), None)
    return render(
        template,
        {
            "node_id": node.node_id,
            "agent_id": node.agent_id,
            "tenant_id": node.tenant_id,
            "model": node.model,
            "variant": variant.name,
            "original_system": original,
        },
        f"variant {variant.name!r} system_prompt",
    )


def with_system_prompt(messages: list[dict[str, Any]], system: str) -> list[dict[str, Any]]:
    if messages and messages[0].get("role") == "system":
        return [{"role": "system", "content": system}, *messages[1:]]
    return [{"role": "system", "content": system}, *messages]


def request_params(node: Node, variant: Variant) -> dict[str, Any]:
    """The original request's settings, overridden by the variant's."""
    params = {k: v for k, v in node.request_params.items() if k not in _DROPPED_PARAMS}
    params.update(variant.sampling.as_dict())
    if variant.tools == "none":
        params.pop("tools", None)
        params.pop("tool_choice", None)
    elif isinstance(variant.tools, list):
        params["tools"] = variant.tools
    return params


def _added_turns(node: Node, parent: Node) -> list[dict[str, Any]]:
    """The turns a node added after its parent's reply (user and tool messages)."""
    prefix = parent.messages
    messages = node.messages
    if messages[: len(prefix)] == prefix and len(messages) > len(prefix):
        return messages[len(prefix) + 1 :]
    last_assistant = max(
        (i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1
    )
    return messages[last_assistant + 1 :]


def _output_estimate(node: Node, variant: Variant) -> int:
    max_tokens = variant.sampling.as_dict().get("max_tokens")
    if isinstance(max_tokens, int):
        return max_tokens
    return node.completion_tokens or DEFAULT_OUTPUT_TOKENS


def _task(
    manifest: ReplayManifest,
    node: Node,
    subtree: list[Node],
    variant: Variant,
    sample: int,
    cohort_id: str,
) -> tuple[NewTask, int, int]:
    config = variant.config()
    task_id = stable_id("task", cohort_id, node.node_id, config, sample)
    steps: list[dict[str, Any]] = []
    index_of: dict[str, int] = {}
    input_tokens = output_tokens = 0
    context_tokens: dict[str, int] = {}
    for current in subtree:
        step_id = stable_id("replay", task_id, current.node_id)
        if current is node:
            messages = node.messages
            if variant.system_prompt is not None:
                messages = with_system_prompt(
                    messages, render_system_prompt(variant.system_prompt, node, variant)
                )
            parent: dict[str, Any] = {"request_id": node.parent_node_id}
            base_tokens = 0
        else:
            assert current.parent_node_id is not None
            parent_step = index_of[current.parent_node_id]
            messages = _added_turns(current, subtree[parent_step])
            parent = {"step": parent_step}
            base_tokens = context_tokens[current.parent_node_id]
        out = _output_estimate(current, variant)
        step_in = base_tokens + estimate_tokens(messages)
        context_tokens[current.node_id] = step_in + out
        input_tokens += step_in
        output_tokens += out
        index_of[current.node_id] = len(steps)
        steps.append(
            {
                "request_id": step_id,
                "replay_of": current.node_id,
                "parent": parent,
                "messages": messages,
                "params": request_params(current, variant),
                "tenant_id": current.tenant_id,
                "agent_id": current.agent_id,
                "session_id": current.session_id,
                "estimated_tokens": step_in + out,
            }
        )
    payload = {
        "kind": "replay",
        "cohort_id": cohort_id,
        "mode": manifest.mode,
        "model": variant.model,
        "variant": config,
        "sample_index": sample,
        "steps": steps,
    }
    return (
        NewTask(task_id, "replay", payload, input_tokens + output_tokens),
        input_tokens,
        output_tokens,
    )


def _subtree(node: Node, children: Mapping[str, list[Node]]) -> list[Node]:
    """The node and its descendants, parents first."""
    ordered = [node]
    for current in ordered:
        ordered.extend(children.get(current.node_id, []))
    return ordered


def _selected_tenants(where: Mapping[str, Any]) -> list[str] | None:
    """The tenants a selection names, if any: its node ids are read within them."""
    if "tenant_id" not in where:
        return None
    named = where["tenant_id"]
    return [str(tenant) for tenant in (named if isinstance(named, list) else [named])]


def plan_replay(
    db: Db,
    manifest: ReplayManifest,
    raw_manifest: Mapping[str, Any] | None = None,
    prices: PriceBook | None = None,
    versions: CurrentVersions | None = None,
) -> CohortPlan:
    """The cohort's tasks and its estimate; `details` holds node_count."""
    cohort_id = manifest.cohort_id
    selection = manifest.selection
    if manifest.stale:
        ids = stale_node_ids(db, versions or CurrentVersions.load(), selection.limit)
    else:
        ids = select_node_ids(db, selection.ids, selection.where.as_dict(), selection.limit)
    tenants = _selected_tenants(selection.where.as_dict())
    nodes = load_nodes(db, ids, tenants)
    missing = [i for i in ids if i not in nodes]
    if missing:
        raise TrellisError(f"node {missing[0]} has no raw request record: was its source ingested?")
    children: dict[str, list[Node]] = {}
    if manifest.mode == "subtree":
        children = children_map(load_trees(db, {n.root_node_id for n in nodes.values()}, tenants))
    tasks: list[NewTask] = []
    input_tokens = output_tokens = calls = 0
    cost = 0.0
    unpriced: set[str] = set()
    table = prices or PriceBook(db)
    for node_id in ids:
        node = nodes[node_id]
        if not node.messages:
            raise TrellisError(f"node {node_id} has no frozen context (request.messages)")
        subtree = _subtree(node, children) if manifest.mode == "subtree" else [node]
        for variant in manifest.variants:
            for sample in range(variant.samples):
                task, task_in, task_out = _task(manifest, node, subtree, variant, sample, cohort_id)
                tasks.append(task)
                calls += len(subtree)
                input_tokens += task_in
                output_tokens += task_out
                price = table.cost(variant.model, task_in, task_out)
                if price is None:
                    unpriced.add(variant.model)
                else:
                    cost += price
    endpoints, no_endpoint = manifest.endpoints_by_model()
    return CohortPlan(
        cohort_id=cohort_id,
        kind="replay",
        name=manifest.name,
        manifest=raw_manifest or {},
        tasks=tasks,
        endpoints=endpoints,
        settings=manifest.run,
        estimate=Estimate(
            calls=calls,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_usd=None if unpriced else round(cost, 6),
            unpriced_models=tuple(sorted(unpriced)),
        ),
        details={"node_count": len(ids)},
        no_endpoint=no_endpoint,
    )
