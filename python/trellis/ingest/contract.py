"""The gateway log contract (docs/contract/gateway-log-v1.md) as msgspec Structs.

The Structs are the rule table: their field types and `Meta` bounds say
what a valid record is, and msgspec checks a parsed record against them
(msgspec.convert), unknown fields skipped. What a
type cannot say (timestamps, numbers both targets must hold as doubles,
cross-field rules, repeated keys) is checked in trellis.ingest.validate.
Every bound below is the range of the column the field lands in, so no
record ingest accepts breaks a cast or a test in `dbt build`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec

RecordKind = Literal["requests", "feedback"]
RECORD_KINDS: tuple[RecordKind, ...] = ("requests", "feedback")

#: Stable quarantine reason codes. A line gets one reason: the first check it fails.
INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"
DUPLICATE_KEY = "duplicate_key"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
INVALID_TIMESTAMP = "invalid_timestamp"
INVALID_ENUM = "invalid_enum"
NEGATIVE_TOKENS = "negative_tokens"
OUT_OF_RANGE = "out_of_range"
INCONSISTENT = "inconsistent"
TENANT_MISMATCH = "tenant_mismatch"
UNREADABLE = "unreadable"
CONFLICT = "conflict"
REASONS: tuple[str, ...] = (
    INVALID_JSON,
    NOT_AN_OBJECT,
    DUPLICATE_KEY,
    MISSING_FIELD,
    WRONG_TYPE,
    INVALID_TIMESTAMP,
    INVALID_ENUM,
    NEGATIVE_TOKENS,
    OUT_OF_RANGE,
    INCONSISTENT,
    TENANT_MISMATCH,
    UNREADABLE,
    CONFLICT,
)
#: Reasons one defect in one line gives (the demo generator makes one line of each).
_FIELD_REASONS = (
    INVALID_JSON,
    NOT_AN_OBJECT,
    MISSING_FIELD,
    WRONG_TYPE,
    INVALID_TIMESTAMP,
    INVALID_ENUM,
    NEGATIVE_TOKENS,
    OUT_OF_RANGE,
)

#: The tenant of a record that names none.
DEFAULT_TENANT = "default"
#: Longest id (request_id, feedback_id, tenant_id, ...), in characters: the
#: primary-key index of PostgreSQL refuses keys of some 2.7 KB.
MAX_ID_LENGTH = 256
#: Largest token count: any sum of counts over a warehouse still fits a bigint.
MAX_TOKENS = 10**12
#: Largest magnitude of a number read as a double (latency, cost,
#: temperature...); nonzero ones must also be at least DOUBLE_MIN, which
#: PostgreSQL's double precision holds without underflow.
DOUBLE_MAX = 1e300
DOUBLE_MIN = 1e-300
#: Longest latency or time to first token, in ms (some 31 years): the sum of a
#: trajectory's latencies must fit the exact decimal trajectory_units adds them in.
MAX_LATENCY_MS = 1e12
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
INT_MAX = 2**31 - 1

REQUEST_STATUSES = ("success", "error", "timeout", "fallback", "cancelled")
MESSAGE_ROLES = ("system", "user", "assistant", "tool", "developer", "function")
BRANCH_KINDS = (
    "root",
    "continuation",
    "retry",
    "sampling_variant",
    "tool_variant",
    "model_variant",
    "prompt_variant",
    "taskify_variant",
    "replay",
)
FEEDBACK_OUTCOMES = ("success", "fallback", "timeout", "error", "user_rejected")
FEEDBACK_SOURCES = ("auto", "user", "judge", "human")

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH)]
OptionalId = Annotated[str, msgspec.Meta(max_length=MAX_ID_LENGTH)] | None
Tokens = Annotated[int, msgspec.Meta(ge=0, le=MAX_TOKENS)] | None
Text = str | None
#: A timestamp: a string here, read by validate.timestamp.
Timestamp = str
#: A number read as a double downstream: any value here, read by validate.double.
Double = Any


class _Struct(msgspec.Struct, gc=False, omit_defaults=True):
    """Unknown fields are kept in the record and skipped here."""


class Message(_Struct):
    role: Literal[MESSAGE_ROLES]  # type: ignore[valid-type]
    content: str | list[Any] | None = None


class Request(_Struct):
    messages: Annotated[list[Message], msgspec.Meta(min_length=1)]
    temperature: Double = None
    top_p: Double = None
    max_tokens: Annotated[int, msgspec.Meta(ge=0, le=BIGINT_MAX)] | None = None
    seed: Annotated[int, msgspec.Meta(ge=BIGINT_MIN, le=BIGINT_MAX)] | None = None
    n: Annotated[int, msgspec.Meta(ge=0, le=INT_MAX)] | None = None
    stop: str | list[str] | None = None


class TokenDetails(_Struct):
    cached_tokens: Tokens = None
    reasoning_tokens: Tokens = None


class Usage(_Struct):
    prompt_tokens: Tokens = None
    completion_tokens: Tokens = None
    total_tokens: Tokens = None
    cache_read_input_tokens: Tokens = None
    prompt_tokens_details: TokenDetails | None = None
    completion_tokens_details: TokenDetails | None = None


class Response(_Struct):
    usage: Usage | None = None
    choices: list[Any] | None = None


class Error(_Struct):
    http_status: Annotated[int, msgspec.Meta(ge=100, le=599)] | None = None


class Fallback(_Struct):
    used: bool | None = None


class Prompt(_Struct):
    redaction_applied: bool | None = None


class Branch(_Struct):
    kind: Literal[BRANCH_KINDS] | None = None  # type: ignore[valid-type]
    replay_of_request_id: OptionalId = None
    cohort_id: OptionalId = None


class RequestRecord(_Struct):
    request_id: Id
    created_at: Timestamp
    model: Annotated[str, msgspec.Meta(min_length=1)]
    request: Request
    completed_at: Timestamp | None = None
    tenant_id: OptionalId = None
    agent_id: OptionalId = None
    session_id: OptionalId = None
    parent_request_id: OptionalId = None
    trace_id: OptionalId = None
    parent_trace_id: OptionalId = None
    saga_id: OptionalId = None
    served_model: Text = None
    provider: Text = None
    endpoint: Text = None
    status: Literal[REQUEST_STATUSES] | None = None  # type: ignore[valid-type]
    response: Response | None = None
    error: Error | None = None
    fallback: Fallback | None = None
    prompt: Prompt | None = None
    agent_config: dict[str, Any] | None = None
    branch: Branch | None = None
    metadata: dict[str, Any] | None = None
    latency_ms: Double = None
    ttft_ms: Double = None
    cost_usd: Double = None


class FeedbackRecord(_Struct):
    feedback_id: Id
    request_id: Id
    created_at: Timestamp
    outcome: Literal[FEEDBACK_OUTCOMES]  # type: ignore[valid-type]
    source: Literal[FEEDBACK_SOURCES] | None = None  # type: ignore[valid-type]
    tenant_id: OptionalId = None
    agent_id: OptionalId = None
    reviewer_id: OptionalId = None
    comment: Text = None
    metadata: dict[str, Any] | None = None
    completion_quality: Double = None
    rating: Double = None


@dataclass(frozen=True)
class NumberRule:
    """A Double field: its bounds, and whether it must be one of a few integers."""

    minimum: float | None = None
    maximum: float | None = None
    one_of: tuple[int, ...] = ()


#: Per kind, the Double fields (dotted paths) and their rules.
NUMBER_RULES: dict[RecordKind, dict[str, NumberRule]] = {
    "requests": {
        "latency_ms": NumberRule(minimum=0, maximum=MAX_LATENCY_MS),
        "ttft_ms": NumberRule(minimum=0, maximum=MAX_LATENCY_MS),
        "cost_usd": NumberRule(minimum=0),
        "request.temperature": NumberRule(),
        "request.top_p": NumberRule(),
    },
    "feedback": {
        "completion_quality": NumberRule(minimum=0, maximum=10),
        "rating": NumberRule(one_of=(-1, 1)),
    },
}


@dataclass(frozen=True)
class KindSpec:
    """How one record kind maps onto its raw table."""

    kind: RecordKind
    table: str
    id_column: str
    struct: type[_Struct]
    #: A second id kept in its own column (feedback -> request_id).
    parent_column: str | None = None
    #: The record's tenant has a column (requests only).
    has_tenant_column: bool = False

    @property
    def key_columns(self) -> tuple[str, ...]:
        """The raw table's primary key: a request id is unique within its tenant only."""
        return (self.id_column, "tenant_id") if self.has_tenant_column else (self.id_column,)

    @property
    def columns(self) -> list[str]:
        """The raw table's columns (storage/schema.py), in order."""
        keys = [self.id_column]
        keys += [self.parent_column] if self.parent_column else []
        keys += ["tenant_id"] if self.has_tenant_column else []
        rest = ["created_at", "record_hash", "record", "source_file", "source_line", "ingested_at"]
        return keys + rest


KIND_SPECS: dict[RecordKind, KindSpec] = {
    "requests": KindSpec(
        "requests", "requests", "request_id", RequestRecord, has_tenant_column=True
    ),
    "feedback": KindSpec(
        "feedback", "feedback", "feedback_id", FeedbackRecord, parent_column="request_id"
    ),
}


def checked_reasons(kind: RecordKind) -> tuple[str, ...]:
    """The reasons one defective field of a `kind` line can give, in check order."""
    return tuple(
        reason for reason in _FIELD_REASONS if reason != NEGATIVE_TOKENS or kind == "requests"
    )
