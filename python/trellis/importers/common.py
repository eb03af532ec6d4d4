"""What every importer shares: its options, and the small conversions to contract v1.

The decision on calls logged without their messages (LiteLLM spend logs
with message logging off, an OTel span without content capture) lives
here, in `MESSAGES_ABSENT`: the contract requires a non-empty
`request.messages`, and such a call must still count for costs and
latency, so it gets one placeholder user message with null content and
`metadata.messages_absent = true`. Its context has no assistant turn, so
lineage makes it a root of its own and never matches it to another call
(see docs/importers.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trellis.importers.reading import NOT_AN_OBJECT, Bad, Raw
from trellis.ingest import SourceItem

#: The one message of a call logged without its messages.
MESSAGES_ABSENT: list[dict[str, Any]] = [{"role": "user", "content": None}]
#: A record lacking what the contract requires (a time, an id, a model).
MISSING_FIELD = "missing_field"
#: A record of the right shape whose values cannot be mapped (a bad timestamp).
WRONG_TYPE = "wrong_type"

#: Identity fields the tenant and agent rules may name (see docs/importers.md).
IDENTITY_FIELDS = (
    "team_alias",
    "team_id",
    "org_id",
    "key_alias",
    "key_hash",
    "user_id",
    "end_user",
)


@dataclass(frozen=True)
class ImportOptions:
    """How an import fills what its source does not say.

    `tenant_from` / `agent_from`: identity fields (IDENTITY_FIELDS) tried in
    order; the first one set wins, else the constant `tenant` / `agent`.
    """

    tenant: str = "default"
    agent: str | None = None
    tenant_from: Sequence[str] = ()
    agent_from: Sequence[str] = field(default_factory=lambda: ("key_alias", "user_id"))

    def tenant_of(self, identity: Mapping[str, Any]) -> str:
        return _first(identity, self.tenant_from) or self.tenant

    def agent_of(self, identity: Mapping[str, Any], fallback: str | None = None) -> str | None:
        return _first(identity, self.agent_from) or self.agent or fallback


def _first(identity: Mapping[str, Any], names: Sequence[str]) -> str | None:
    for name in names:
        value = identity.get(name)
        if isinstance(value, str) and value:
            return value
    return None


class Unmappable(Exception):
    """A record the importer cannot map: quarantined with `reason`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def item_of(raw: Raw | Bad, record: Mapping[str, Any] | None = None) -> SourceItem:
    """A SourceItem of a decoded record (or of a Bad one)."""
    if isinstance(raw, Bad):
        return SourceItem(raw.position, raw.text, None, raw.reason)
    return SourceItem(raw.position, raw.text, record)


def bad_item(raw: Raw | Bad, reason: str) -> SourceItem:
    return SourceItem(raw.position, raw.text, None, reason)


def object_or_none(raw: Raw) -> Mapping[str, Any] | None:
    return raw.value if isinstance(raw.value, dict) else None


def not_object(raw: Raw) -> SourceItem:
    return SourceItem(raw.position, raw.text, None, NOT_AN_OBJECT)


def from_epoch(seconds: float) -> str:
    """RFC 3339 UTC of seconds since the epoch, to the microsecond."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat().replace("+00:00", "Z")


def from_nanos(nanos: int | str) -> str:
    """RFC 3339 UTC of OTLP's nanoseconds since the epoch (a string in OTLP/JSON)."""
    whole, rest = divmod(int(nanos), 1_000_000_000)
    moment = dt.datetime.fromtimestamp(whole, dt.UTC) + dt.timedelta(microseconds=rest // 1000)
    return moment.isoformat().replace("+00:00", "Z")


def to_rfc3339(value: Any) -> str | None:
    """A source's timestamp as RFC 3339 with an offset: epoch seconds (number), or an
    ISO 8601 string, taken as UTC when it has no offset. None when absent;
    Unmappable when it is not a time."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Unmappable(WRONG_TYPE, f"{value!r} is not a timestamp")
    if isinstance(value, int | float):
        return from_epoch(float(value))
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.isoformat()
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise Unmappable(WRONG_TYPE, f"{value!r} is not a timestamp") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.isoformat()
    raise Unmappable(WRONG_TYPE, f"{value!r} is not a timestamp")


def millis_between(start: str | None, end: str | None) -> float | None:
    """Milliseconds from one RFC 3339 time to another (None unless both, and in order)."""
    if start is None or end is None:
        return None
    delta = dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(start)
    millis = delta.total_seconds() * 1000
    return round(millis, 3) if millis >= 0 else None


def usage(
    prompt: Any, completion: Any, cached: Any = None, *, cached_apart: bool = False
) -> dict[str, Any] | None:
    """OpenAI-convention usage: `prompt_tokens` includes the cached tokens.

    `cached_apart`: the source counts cached reads outside its prompt count
    (Anthropic's `cache_read_input_tokens`), so they are added to it.
    """
    prompt_n = _count(prompt)
    completion_n = _count(completion)
    cached_n = _count(cached)
    if prompt_n is None and completion_n is None:
        return None
    result: dict[str, Any] = {}
    if prompt_n is not None or cached_n:
        prompt_n = (prompt_n or 0) + (cached_n or 0 if cached_apart else 0)
        result["prompt_tokens"] = prompt_n
    if completion_n is not None:
        result["completion_tokens"] = completion_n
    if prompt_n is not None and completion_n is not None:
        result["total_tokens"] = prompt_n + completion_n
    if cached_n:
        result["prompt_tokens_details"] = {"cached_tokens": cached_n}
    return result


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def compact(record: dict[str, Any]) -> dict[str, Any]:
    """The record without its None values and empty objects (top level only)."""
    return {key: value for key, value in record.items() if value is not None and value != {}}


def response_of(
    response_id: str | None,
    message: Mapping[str, Any] | None,
    finish_reason: str | None,
    usage_: Mapping[str, Any] | None,
    model: str | None = None,
) -> dict[str, Any] | None:
    """An OpenAI chat-completions response body with one choice."""
    if message is None and usage_ is None:
        return None
    body: dict[str, Any] = {}
    if response_id:
        body["id"] = response_id
    if model:
        body["model"] = model
    if message is not None:
        body["choices"] = [
            compact({"index": 0, "message": dict(message), "finish_reason": finish_reason})
        ]
    if usage_:
        body["usage"] = dict(usage_)
    return body
