"""The judge manifest (YAML, typed by msgspec): targets, templates, judge models, endpoints.

Every field is in docs/runners.md; examples/judge_manifest.yaml is a
complete example. Template paths are relative to the manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from trellis.runners.judge.templates import JudgeTemplate, load_template
from trellis.runners.kit.ids import stable_id
from trellis.runners.kit.manifest import ManifestError, convert, load
from trellis.runners.kit.settings import (
    Endpoint,
    PositiveInt,
    RunSettings,
    Sampling,
    endpoints_for,
)

TargetKind = Literal["trajectory", "response"]
_FILTERS = {
    "trajectory": ("session_key", "tenant_id", "root_node_id", "leaf_node_id"),
    "response": ("tenant_id", "agent_id", "model", "context_anchor_node_id"),
}


class Targets(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: TargetKind
    ids: list[str] = []
    where: dict[str, str | list[str]] = {}
    limit: PositiveInt | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.where) - set(_FILTERS[self.kind]))
        if unknown:
            raise ValueError(
                f"unknown {self.kind} filter(s) {', '.join(unknown)} "
                f"(known: {', '.join(_FILTERS[self.kind])})"
            )


class Judge(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    model: str
    sampling: Sampling = Sampling()


class JudgeManifestFile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    targets: Targets
    templates: Annotated[list[str], msgspec.Meta(min_length=1)]
    judges: Annotated[list[Judge], msgspec.Meta(min_length=1)]
    name: str | None = None
    endpoints: dict[str, Endpoint] = {}
    run: RunSettings = RunSettings()


class JudgeManifest(msgspec.Struct, frozen=True):
    """The file's fields with its templates loaded."""

    file: JudgeManifestFile
    templates: tuple[JudgeTemplate, ...]

    @property
    def target_kind(self) -> str:
        return self.file.targets.kind

    @property
    def cohort_id(self) -> str:
        targets = self.file.targets
        return stable_id(
            "cohort",
            "judge",
            targets.kind,
            list(targets.ids),
            dict(targets.where),
            targets.limit,
            [t.fingerprint for t in self.templates],
            [{"model": j.model, "sampling": j.sampling.as_dict()} for j in self.file.judges],
        )

    def endpoints_by_model(self) -> tuple[dict[str, Endpoint], tuple[str, ...]]:
        return endpoints_for(self.file.endpoints, [j.model for j in self.file.judges])


def _with_templates(parsed: JudgeManifestFile, base_dir: Path, source: str) -> JudgeManifest:
    templates = tuple(load_template(base_dir / p) for p in parsed.templates)
    for template in templates:
        if template.target != parsed.targets.kind:
            raise ManifestError(
                f"bad manifest {source}: template {template.template_id} judges "
                f"target {template.target}, the manifest selects {parsed.targets.kind}"
            )
    return JudgeManifest(parsed, templates)


def read_judge_manifest(path: Path) -> tuple[JudgeManifest, dict[str, Any]]:
    """The manifest at `path` with its templates, and its plain mapping."""
    parsed, raw = load(path, JudgeManifestFile)
    return _with_templates(parsed, path.parent, str(path)), raw


def parse_judge_manifest(
    data: Mapping[str, Any], base_dir: Path, source: str = "<manifest>"
) -> JudgeManifest:
    """A manifest given as a mapping; template paths are relative to `base_dir`."""
    return _with_templates(convert(dict(data), JudgeManifestFile, source), base_dir, source)
