"""The manifest sections every runner shares: endpoints, sampling and run settings.

Typed msgspec structs: a value of the wrong type, out of range or a key that
is not listed here is refused with the field's path and line
(trellis.runners.kit.manifest). API keys are never in a manifest: an
endpoint names the environment variable that holds its key.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

import msgspec

from trellis.errors import TrellisError

GATEWAY_URL_ENV = "TRELLIS_GATEWAY_URL"
GATEWAY_KEY_ENV = "TRELLIS_GATEWAY_API_KEY"

Positive = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
Unset = msgspec.UnsetType
UNSET = msgspec.UNSET


class Endpoint(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where a model is called. The key is read from the environment, never kept."""

    base_url: Annotated[str, msgspec.Meta(pattern=r"^https?://\S+$")]
    api_key_env: str | None = None
    rps: Positive | None = None
    tpm: Positive | None = None
    #: `api_key:` in a manifest is refused, to say where a key goes instead.
    key_in_manifest: str | Unset = msgspec.field(default=UNSET, name="api_key")

    def __post_init__(self) -> None:
        if self.key_in_manifest is not UNSET:
            raise ValueError("put API keys in the environment and name the variable in api_key_env")
        msgspec.structs.force_setattr(self, "base_url", self.base_url.rstrip("/"))

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


class Sampling(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Request fields a variant or judge may set; the original request keeps the others."""

    temperature: Annotated[float, msgspec.Meta(ge=0)] | Unset = UNSET
    top_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | Unset = UNSET
    max_tokens: PositiveInt | Unset = UNSET
    seed: int | Unset = UNSET
    stop: str | list[str] | Unset = UNSET
    response_format: dict[str, Any] | Unset = UNSET
    frequency_penalty: float | Unset = UNSET
    presence_penalty: float | Unset = UNSET

    def as_dict(self) -> dict[str, Any]:
        """Only the fields the manifest set (what is sent and hashed into ids)."""
        return msgspec.to_builtins(self)


class RunSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    concurrency: PositiveInt = 16
    max_attempts: PositiveInt = 5
    timeout_s: Positive = 60.0
    lease_s: Positive = 120.0
    backoff_base_s: Positive = 0.5
    backoff_max_s: Positive = 30.0
    batch_size: PositiveInt = 512


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
    # A gateway may need no key: its key variable is used only when it is set.
    key_env = GATEWAY_KEY_ENV if os.environ.get(GATEWAY_KEY_ENV) else None
    return Endpoint(base_url=url, api_key_env=key_env)


def require_api_keys(endpoints: Iterable[Endpoint]) -> None:
    """Every key an endpoint names is set, before the first call (not 401s at call 1,000)."""
    for endpoint in endpoints:
        if endpoint.api_key_env and not os.environ.get(endpoint.api_key_env):
            raise TrellisError(
                f"endpoint {endpoint.base_url} needs an API key in ${endpoint.api_key_env}, "
                "which is not set"
            )


def endpoints_for(
    endpoints: Mapping[str, Endpoint], models: Iterable[str]
) -> tuple[dict[str, Endpoint], tuple[str, ...]]:
    """Each model's endpoint, and the models that have none (an error only when calling)."""
    found: dict[str, Endpoint] = {}
    missing: list[str] = []
    for model in models:
        try:
            found[model] = resolve_endpoint(endpoints, model)
        except TrellisError:
            missing.append(model)
    return found, tuple(sorted(set(missing)))
