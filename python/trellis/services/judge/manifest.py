"""The judge manifest (YAML): targets, templates, judge models, endpoints.

targets:
  kind: trajectory            # trajectory | response
  ids: [...]                  # or where: {session_key: s1}; limit: 50
templates: [judge_helpfulness.yaml]   # paths relative to the manifest
judges:
  - model: gpt-4o
    sampling: {temperature: 0}
endpoints: {...}              # as in the replay manifest
run: {concurrency: 8}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trellis.errors import TrellisError
from trellis.services.judge.templates import TARGET_KINDS, JudgeTemplate, load_template
from trellis.services.replay.ids import stable_id
from trellis.services.replay.manifest import (
    SAMPLING_KEYS,
    Endpoint,
    RunSettings,
    load_yaml,
    parse_endpoints,
    parse_run,
    resolve_endpoint,
)


@dataclass(frozen=True)
class Judge:
    model: str
    sampling: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JudgeManifest:
    target_kind: str
    target_ids: tuple[str, ...]
    target_where: Mapping[str, Any]
    limit: int | None
    templates: tuple[JudgeTemplate, ...]
    judges: tuple[Judge, ...]
    endpoints: Mapping[str, Endpoint]
    run: RunSettings
    name: str | None = None

    @property
    def cohort_id(self) -> str:
        return stable_id(
            "cohort",
            "judge",
            self.target_kind,
            list(self.target_ids),
            dict(self.target_where),
            self.limit,
            [t.fingerprint for t in self.templates],
            [{"model": j.model, "sampling": dict(j.sampling)} for j in self.judges],
        )

    def endpoint_for(self, model: str) -> Endpoint:
        return resolve_endpoint(self.endpoints, model)


def parse_judge_manifest(
    data: Mapping[str, Any], base_dir: Path, source: str = "<manifest>"
) -> JudgeManifest:
    def fail(message: str) -> TrellisError:
        return TrellisError(f"bad manifest {source}: {message}")

    unknown = set(data) - {"name", "targets", "templates", "judges", "endpoints", "run"}
    if unknown:
        raise fail(f"unknown key(s): {', '.join(sorted(unknown))}")
    targets = data.get("targets")
    if not isinstance(targets, dict) or targets.get("kind") not in TARGET_KINDS:
        raise fail("`targets.kind` must be trajectory or response")
    ids = targets.get("ids") or []
    where = targets.get("where") or {}
    if not isinstance(ids, list) or not isinstance(where, dict):
        raise fail("`targets.ids` must be a list and `targets.where` a mapping")
    limit = targets.get("limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise fail("targets.limit must be a positive integer")
    paths = data.get("templates")
    if not isinstance(paths, list) or not paths:
        raise fail("`templates` must be a non-empty list of template files")
    templates = tuple(load_template(base_dir / str(p)) for p in paths)
    for template in templates:
        if template.target != targets["kind"]:
            raise fail(
                f"template {template.template_id} judges target {template.target}, "
                f"the manifest selects {targets['kind']}"
            )
    judges_raw = data.get("judges")
    if not isinstance(judges_raw, list) or not judges_raw:
        raise fail("`judges` must be a non-empty list of {model, sampling}")
    judges = []
    for i, judge in enumerate(judges_raw):
        if not isinstance(judge, dict) or not isinstance(judge.get("model"), str):
            raise fail(f"judges[{i}] needs a model")
        sampling = judge.get("sampling") or {}
        if not isinstance(sampling, dict) or set(sampling) - SAMPLING_KEYS:
            raise fail(f"judges[{i}].sampling has unknown keys")
        judges.append(Judge(judge["model"], sampling))
    return JudgeManifest(
        target_kind=targets["kind"],
        target_ids=tuple(str(i) for i in ids),
        target_where=where,
        limit=limit,
        templates=templates,
        judges=tuple(judges),
        endpoints=parse_endpoints(source, data.get("endpoints")),
        run=parse_run(source, data.get("run")),
        name=data.get("name"),
    )


def read_judge_manifest(path: Path) -> JudgeManifest:
    return parse_judge_manifest(load_yaml(path), path.parent, str(path))
