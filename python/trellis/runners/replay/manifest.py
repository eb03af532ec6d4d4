"""The replay manifest: which nodes, which variants, which mode (YAML, typed by msgspec).

Only what decides the work (mode, nodes, variants) goes into the cohort id;
how it is run (endpoints, concurrency, limits) does not, so re-running a
manifest with more concurrency continues the same cohort. Every field is in
docs/runners.md; examples/replay_manifest.yaml is a complete example.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from trellis.runners.kit.ids import stable_id
from trellis.runners.kit.manifest import ManifestError, convert, read_yaml
from trellis.runners.kit.settings import (
    UNSET,
    Endpoint,
    PositiveInt,
    RunSettings,
    Sampling,
    Unset,
    endpoints_for,
    resolve_endpoint,
)
from trellis.runners.kit.templating import check_syntax

Mode = Literal["node", "subtree"]
Values = str | list[str]


class NodeFilter(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A filter over lineage.conversation_branch_nodes; lists mean `in`."""

    session_key: Values | Unset = UNSET
    agent_id: Values | Unset = UNSET
    tenant_id: Values | Unset = UNSET
    model: Values | Unset = UNSET
    root_node_id: Values | Unset = UNSET
    branch_kind: Values | Unset = UNSET
    created_from: dt.date | Unset = UNSET
    created_to: dt.date | Unset = UNSET
    leaves_only: bool | Unset = UNSET

    def as_dict(self) -> dict[str, Any]:
        """The fields set (dates stay dates)."""
        return {
            name: getattr(self, name)
            for name in self.__struct_fields__
            if getattr(self, name) is not UNSET
        }


class NodeSelection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    ids: list[str] = []
    where: NodeFilter = NodeFilter()
    limit: PositiveInt | None = None


class Variant(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    model: str
    name: str = ""
    sampling: Sampling = Sampling()
    samples: PositiveInt = 1
    system_prompt: str | None = None
    tools: Literal["original", "none"] | list[dict[str, Any]] = "original"

    def __post_init__(self) -> None:
        if self.system_prompt is not None:
            problem = check_syntax(self.system_prompt)
            if problem:
                raise ValueError(f"system_prompt is not a valid template ({problem})")

    def config(self) -> dict[str, Any]:
        """What is recorded as `branch.variant_config` and hashed into task ids."""
        return {
            "name": self.name,
            "model": self.model,
            "sampling": self.sampling.as_dict(),
            "system_prompt": self.system_prompt,
            "tools": self.tools,
        }


class ReplayManifest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    variants: Annotated[list[Variant], msgspec.Meta(min_length=1)]
    name: str | None = None
    mode: Mode = "node"
    nodes: NodeSelection | None = None
    endpoints: dict[str, Endpoint] = {}
    run: RunSettings = RunSettings()
    #: Replay the stale nodes (`--stale`) instead of `nodes`; always subtree mode.
    stale: bool = False

    def __post_init__(self) -> None:
        for index, variant in enumerate(self.variants):
            if not variant.name:
                msgspec.structs.force_setattr(variant, "name", f"variant-{index}")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be unique")
        if self.stale:
            msgspec.structs.force_setattr(self, "mode", "subtree")
        elif self.nodes is None or not (self.nodes.ids or self.nodes.where.as_dict()):
            raise ValueError("`nodes` must give `ids` or `where`")

    @property
    def selection(self) -> NodeSelection:
        return self.nodes or NodeSelection()

    @property
    def cohort_id(self) -> str:
        nodes = self.selection
        return stable_id(
            "cohort",
            "replay",
            self.mode,
            {
                "ids": list(nodes.ids),
                "where": nodes.where.as_dict(),
                "limit": nodes.limit,
                "stale": self.stale,
            },
            [v.config() | {"samples": v.samples} for v in self.variants],
        )

    def endpoint_for(self, model: str) -> Endpoint:
        return resolve_endpoint(self.endpoints, model)

    def endpoints_by_model(self) -> tuple[dict[str, Endpoint], tuple[str, ...]]:
        return endpoints_for(self.endpoints, [v.model for v in self.variants])


def read_manifest(path: Path, stale: bool = False) -> tuple[ReplayManifest, dict[str, Any]]:
    """The manifest at `path` (with `--stale` applied) and its plain mapping."""
    data, node = read_yaml(path)
    if not isinstance(data, dict):
        raise ManifestError(f"bad manifest {path} line 1: must be a mapping of fields")
    if stale:
        data = {**data, "stale": True}
    return convert(data, ReplayManifest, str(path), node), data


def parse_manifest(
    data: Mapping[str, Any], source: str = "<manifest>", stale: bool = False
) -> ReplayManifest:
    """A manifest given as a mapping (a library caller's, or YAML already read)."""
    values = {**data, "stale": True} if stale else dict(data)
    return convert(values, ReplayManifest, source)
