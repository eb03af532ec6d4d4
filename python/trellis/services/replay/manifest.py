"""The cohort manifest: which nodes, which variants, which mode (YAML).

Only what decides the work (mode, nodes, variants) goes into the cohort id;
how it is run (endpoints, concurrency, limits) does not, so re-running a
manifest with more concurrency continues the same cohort.

Example (see examples/replay_manifest.yaml):

    mode: node                     # node | subtree
    nodes:
      ids: [req-1, req-2]          # or a filter:
      where: {agent_id: ide, branch_kind: [root], leaves_only: true,
              created_from: 2026-01-01, created_to: 2026-02-01, session_key: s1}
      limit: 100
    variants:
      - name: mini-cold
        model: gpt-4o-mini
        sampling: {temperature: 0, max_tokens: 256}
        samples: 2
        system_prompt: "You are {{ agent_id }}'s careful twin."
        tools: original            # original | none | [tool definitions]
    endpoints:                     # per model; default: the gateway (TRELLIS_GATEWAY_URL)
      gpt-4o-mini: {base_url: "https://api.openai.com/v1", api_key_env: OPENAI_API_KEY,
                    rps: 20, tpm: 200000}
    run: {concurrency: 16, max_attempts: 5, timeout_s: 60, lease_s: 120}
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import jinja2
import yaml

from trellis.errors import TrellisError
from trellis.services.replay.ids import stable_id

Mode = Literal["node", "subtree"]

#: Request fields a variant may set; everything else of the original request is kept.
SAMPLING_KEYS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "seed",
        "stop",
        "response_format",
        "frequency_penalty",
        "presence_penalty",
    }
)
NODE_FILTER_KEYS = frozenset(
    {
        "session_key",
        "agent_id",
        "tenant_id",
        "model",
        "branch_kind",
        "created_from",
        "created_to",
        "leaves_only",
        "root_node_id",
    }
)
GATEWAY_URL_ENV = "TRELLIS_GATEWAY_URL"
GATEWAY_KEY_ENV = "TRELLIS_GATEWAY_API_KEY"


@dataclass(frozen=True)
class Endpoint:
    """Where a model is called. The key is read from the environment, never kept."""

    base_url: str
    api_key_env: str | None = None
    rps: float | None = None
    tpm: float | None = None

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


@dataclass(frozen=True)
class RunSettings:
    concurrency: int = 16
    max_attempts: int = 5
    timeout_s: float = 60.0
    lease_s: float = 120.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    batch_size: int = 512


@dataclass(frozen=True)
class Variant:
    name: str
    model: str
    sampling: Mapping[str, Any] = field(default_factory=dict)
    samples: int = 1
    system_prompt: str | None = None
    tools: str | list[Any] = "original"

    def config(self) -> dict[str, Any]:
        """What is recorded as `branch.variant_config` and hashed into task ids."""
        return {
            "name": self.name,
            "model": self.model,
            "sampling": dict(self.sampling),
            "system_prompt": self.system_prompt,
            "tools": self.tools,
        }


@dataclass(frozen=True)
class NodeSelection:
    ids: tuple[str, ...] = ()
    where: Mapping[str, Any] = field(default_factory=dict)
    limit: int | None = None


@dataclass(frozen=True)
class ReplayManifest:
    mode: Mode
    nodes: NodeSelection
    variants: tuple[Variant, ...]
    endpoints: Mapping[str, Endpoint]
    run: RunSettings
    name: str | None = None
    stale: bool = False

    @property
    def cohort_id(self) -> str:
        return stable_id(
            "cohort",
            "replay",
            self.mode,
            {
                "ids": list(self.nodes.ids),
                "where": dict(self.nodes.where),
                "limit": self.nodes.limit,
                "stale": self.stale,
            },
            [v.config() | {"samples": v.samples} for v in self.variants],
        )

    def endpoint_for(self, model: str) -> Endpoint:
        return resolve_endpoint(self.endpoints, model)


def resolve_endpoint(endpoints: Mapping[str, Endpoint], model: str) -> Endpoint:
    """The model's own endpoint, else `default`, else the gateway itself."""
    if model in endpoints:
        return endpoints[model]
    if "default" in endpoints:
        return endpoints["default"]
    url = os.environ.get(GATEWAY_URL_ENV)
    if not url:
        raise TrellisError(
            f"no endpoint for model {model!r}: add it under `endpoints:` or set {GATEWAY_URL_ENV}"
        )
    return Endpoint(base_url=url, api_key_env=GATEWAY_KEY_ENV)


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TrellisError(f"cannot read manifest {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise TrellisError(f"manifest {path}{where} is not valid YAML") from None
    if not isinstance(data, dict):
        raise TrellisError(f"manifest {path} must be a mapping")
    return data


def _fail(source: str, message: str) -> TrellisError:
    return TrellisError(f"bad manifest {source}: {message}")


def _known(source: str, section: str, value: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _fail(source, f"unknown key(s) in {section}: {', '.join(unknown)}")


def parse_endpoints(source: str, raw: Any) -> dict[str, Endpoint]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fail(
            source, "`endpoints` must map a model name to {base_url, api_key_env, rps, tpm}"
        )
    endpoints: dict[str, Endpoint] = {}
    for model, spec in raw.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("base_url"), str):
            raise _fail(source, f"endpoint {model!r} needs a base_url")
        if "api_key" in spec:
            raise _fail(
                source, "put API keys in the environment and name the variable in api_key_env"
            )
        _known(
            source,
            f"endpoint {model!r}",
            spec,
            frozenset({"base_url", "api_key_env", "rps", "tpm"}),
        )
        endpoints[str(model)] = Endpoint(
            base_url=spec["base_url"].rstrip("/"),
            api_key_env=spec.get("api_key_env"),
            rps=_positive(source, f"endpoint {model!r} rps", spec.get("rps")),
            tpm=_positive(source, f"endpoint {model!r} tpm", spec.get("tpm")),
        )
    return endpoints


def _positive(source: str, what: str, value: Any) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise _fail(source, f"{what} must be a positive number")
    return float(value)


def parse_run(source: str, raw: Any) -> RunSettings:
    if raw is None:
        return RunSettings()
    if not isinstance(raw, dict):
        raise _fail(source, "`run` must be a mapping")
    allowed = frozenset(RunSettings.__dataclass_fields__)
    _known(source, "run", raw, allowed)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        number = _positive(source, f"run.{key}", value)
        assert number is not None
        values[key] = (
            int(number) if key in {"concurrency", "max_attempts", "batch_size"} else number
        )
    return RunSettings(**values)


def _parse_variant(source: str, index: int, raw: Any) -> Variant:
    where = f"variants[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("model"), str):
        raise _fail(source, f"{where} needs a model")
    _known(
        source,
        where,
        raw,
        frozenset({"name", "model", "sampling", "samples", "system_prompt", "tools"}),
    )
    sampling = raw.get("sampling") or {}
    if not isinstance(sampling, dict):
        raise _fail(source, f"{where}.sampling must be a mapping")
    _known(source, f"{where}.sampling", sampling, SAMPLING_KEYS)
    samples = raw.get("samples", 1)
    if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
        raise _fail(source, f"{where}.samples must be a positive integer")
    system_prompt = raw.get("system_prompt")
    if system_prompt is not None:
        if not isinstance(system_prompt, str):
            raise _fail(source, f"{where}.system_prompt must be a template string")
        try:
            jinja2.Environment().parse(system_prompt)
        except jinja2.TemplateSyntaxError as exc:
            raise _fail(source, f"{where}.system_prompt: {exc.message}") from None
    tools = raw.get("tools", "original")
    if not (tools in ("original", "none") or isinstance(tools, list)):
        raise _fail(source, f"{where}.tools must be original, none or a list of tool definitions")
    return Variant(
        name=str(raw.get("name") or f"variant-{index}"),
        model=raw["model"],
        sampling=sampling,
        samples=samples,
        system_prompt=system_prompt,
        tools=tools,
    )


def _parse_nodes(source: str, raw: Any, stale: bool) -> NodeSelection:
    if raw is None and stale:
        return NodeSelection()
    if not isinstance(raw, dict):
        raise _fail(source, "`nodes` must give `ids` or `where`")
    _known(source, "nodes", raw, frozenset({"ids", "where", "limit"}))
    ids = raw.get("ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise _fail(source, "nodes.ids must be a list of node ids")
    where = raw.get("where") or {}
    if not isinstance(where, dict):
        raise _fail(source, "nodes.where must be a mapping")
    _known(source, "nodes.where", where, NODE_FILTER_KEYS)
    for key in ("created_from", "created_to"):
        if key in where and not isinstance(where[key], dt.date):
            raise _fail(source, f"nodes.where.{key} must be a date (YYYY-MM-DD)")
    if not ids and not where and not stale:
        raise _fail(source, "`nodes` must give `ids` or `where`")
    limit = raw.get("limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise _fail(source, "nodes.limit must be a positive integer")
    return NodeSelection(ids=tuple(ids), where=where, limit=limit)


def parse_manifest(
    data: Mapping[str, Any], source: str = "<manifest>", stale: bool = False
) -> ReplayManifest:
    _known(
        source,
        "the manifest",
        data,
        frozenset({"name", "mode", "nodes", "variants", "endpoints", "run"}),
    )
    mode = data.get("mode", "node")
    if mode not in ("node", "subtree"):
        raise _fail(source, f"mode must be node or subtree, not {mode!r}")
    variants_raw = data.get("variants")
    if not isinstance(variants_raw, list) or not variants_raw:
        raise _fail(source, "`variants` must be a non-empty list")
    variants = tuple(_parse_variant(source, i, v) for i, v in enumerate(variants_raw))
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise _fail(source, "variant names must be unique")
    return ReplayManifest(
        mode="subtree" if stale else mode,
        nodes=_parse_nodes(source, data.get("nodes"), stale),
        variants=variants,
        endpoints=parse_endpoints(source, data.get("endpoints")),
        run=parse_run(source, data.get("run")),
        name=data.get("name"),
        stale=stale,
    )


def read_manifest(path: Path, stale: bool = False) -> ReplayManifest:
    return parse_manifest(load_yaml(path), str(path), stale=stale)
