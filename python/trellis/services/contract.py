"""The gateway log contract (docs/contract/gateway-log-v1.md) as validation SQL.

Validation runs inside DuckDB, vectorized. It is the reference: a faster
screen built from the same rule tables (trellis.services.screening) clears
most valid lines before they get here, but every reason and detail of a
quarantined line comes from this SQL. The SQL below is
generated from the rule tables in this module (code constants, never input),
so the rules read as data and the detail messages name the exact field.

Each input line gets at most one reason, the first that applies in this
order: invalid_json, not_an_object, missing_field, wrong_type,
invalid_timestamp, invalid_enum, negative_tokens, out_of_range. `conflict`
is decided later, against the stored rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

RecordKind = Literal["requests", "feedback"]
RECORD_KINDS: tuple[RecordKind, ...] = ("requests", "feedback")

#: Stable quarantine reason codes, in the order they are checked.
INVALID_JSON = "invalid_json"
NOT_AN_OBJECT = "not_an_object"
MISSING_FIELD = "missing_field"
WRONG_TYPE = "wrong_type"
INVALID_TIMESTAMP = "invalid_timestamp"
INVALID_ENUM = "invalid_enum"
NEGATIVE_TOKENS = "negative_tokens"
OUT_OF_RANGE = "out_of_range"
CONFLICT = "conflict"
#: The tenant of a record that names none (or not as a string).
DEFAULT_TENANT = "default"
REASONS: tuple[str, ...] = (
    INVALID_JSON,
    NOT_AN_OBJECT,
    MISSING_FIELD,
    WRONG_TYPE,
    INVALID_TIMESTAMP,
    INVALID_ENUM,
    NEGATIVE_TOKENS,
    OUT_OF_RANGE,
    CONFLICT,
)

REQUEST_STATUSES = ("success", "error", "timeout", "fallback", "cancelled")
MESSAGE_ROLES = ("system", "user", "assistant", "tool", "developer", "function")
FEEDBACK_OUTCOMES = ("success", "fallback", "timeout", "error", "user_rejected")
FEEDBACK_SOURCES = ("auto", "user", "judge", "human")

#: RFC 3339 date-time; the offset (Z or +hh:mm) is mandatory.
RFC3339_PATTERN = r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"

FieldType = Literal["string", "object", "array", "number", "timestamp"]


@dataclass(frozen=True)
class FieldRule:
    """What the contract says about one field, addressed by its dotted path."""

    path: str
    type: FieldType
    required: bool = False
    enum: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    one_of: tuple[float, ...] = ()
    is_token_count: bool = False

    @property
    def parent(self) -> str | None:
        return self.path.rsplit(".", 1)[0] if "." in self.path else None


def _strings(*paths: str) -> tuple[FieldRule, ...]:
    return tuple(FieldRule(path, "string") for path in paths)


def _objects(*paths: str) -> tuple[FieldRule, ...]:
    return tuple(FieldRule(path, "object") for path in paths)


def _tokens(*paths: str) -> tuple[FieldRule, ...]:
    return tuple(FieldRule(path, "number", is_token_count=True) for path in paths)


REQUEST_RULES: tuple[FieldRule, ...] = (
    FieldRule("request_id", "string", required=True),
    FieldRule("created_at", "timestamp", required=True),
    FieldRule("model", "string", required=True),
    FieldRule("request", "object", required=True),
    FieldRule("request.messages", "array", required=True),
    FieldRule("completed_at", "timestamp"),
    *_strings(
        "tenant_id",
        "agent_id",
        "session_id",
        "parent_request_id",
        "trace_id",
        "parent_trace_id",
        "saga_id",
        "served_model",
        "provider",
        "endpoint",
    ),
    FieldRule("status", "string", enum=REQUEST_STATUSES),
    *_objects("response", "error", "fallback", "prompt", "agent_config", "branch", "metadata"),
    FieldRule("response.usage", "object"),
    *_tokens(
        "response.usage.prompt_tokens",
        "response.usage.completion_tokens",
        "response.usage.total_tokens",
        "response.usage.prompt_tokens_details.cached_tokens",
        "response.usage.completion_tokens_details.reasoning_tokens",
    ),
    FieldRule("latency_ms", "number", minimum=0),
    FieldRule("ttft_ms", "number", minimum=0),
    FieldRule("cost_usd", "number", minimum=0),
)

FEEDBACK_RULES: tuple[FieldRule, ...] = (
    FieldRule("feedback_id", "string", required=True),
    FieldRule("request_id", "string", required=True),
    FieldRule("created_at", "timestamp", required=True),
    FieldRule("outcome", "string", required=True, enum=FEEDBACK_OUTCOMES),
    FieldRule("source", "string", enum=FEEDBACK_SOURCES),
    *_strings("tenant_id", "agent_id", "reviewer_id", "comment"),
    FieldRule("metadata", "object"),
    FieldRule("completion_quality", "number", minimum=0, maximum=10),
    FieldRule("rating", "number", one_of=(-1, 1)),
)


@dataclass(frozen=True)
class KindSpec:
    """How one record kind maps onto its raw table."""

    kind: RecordKind
    table: str
    id_column: str
    rules: tuple[FieldRule, ...]
    #: A second id kept in its own column (feedback -> request_id).
    parent_column: str | None = None
    checks_messages: bool = False
    #: The record's tenant (or 'default') has a column (requests only).
    has_tenant_column: bool = False

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
        "requests",
        "requests",
        "request_id",
        REQUEST_RULES,
        checks_messages=True,
        has_tenant_column=True,
    ),
    "feedback": KindSpec(
        "feedback", "feedback", "feedback_id", FEEDBACK_RULES, parent_column="request_id"
    ),
}


def checked_reasons(kind: RecordKind) -> tuple[str, ...]:
    """The reasons validation can give a line of `kind`, in check order.

    `conflict` is decided against stored rows, not here; `negative_tokens`
    needs a token count, which only requests have.
    """
    rules = KIND_SPECS[kind].rules
    has_tokens = any(rule.is_token_count for rule in rules)
    return tuple(
        reason
        for reason in REASONS
        if reason != CONFLICT and (reason != NEGATIVE_TOKENS or has_tokens)
    )


_JSON_TYPE_NAMES = {
    "string": ("VARCHAR",),
    "timestamp": ("VARCHAR",),
    "object": ("OBJECT",),
    "array": ("ARRAY",),
    "number": ("BIGINT", "UBIGINT", "DOUBLE"),
}
_ARTICLE = {"object": "an object", "array": "a list", "number": "a number"}


def _lit(text: str) -> str:
    """A SQL string literal for a code constant (never for input)."""
    return "'" + text.replace("'", "''") + "'"


def _not_one_of(value_sql: str, values: tuple[str, ...]) -> str:
    """`value not in (...)` without the IN list: DuckDB plans long IN lists as joins."""
    if len(values) == 1:
        return f"{value_sql} <> {_lit(values[0])}"
    listed = "[" + ", ".join(_lit(value) for value in values) + "]"
    return f"not list_contains({listed}, {value_sql})"


def _problem(reason: str, detail_sql: str) -> str:
    return f"{{'reason': {_lit(reason)}, 'detail': {detail_sql}}}"


_TYPE_WORD = (
    "case json_type_name when 'VARCHAR' then 'a string' when 'OBJECT' then 'an object' "
    "when 'ARRAY' then 'a list' when 'BOOLEAN' then 'a boolean' "
    "when 'NULL' then 'null' else 'a number' end"
)


def _type_word(type_sql: str) -> str:
    return "(" + _TYPE_WORD.replace("json_type_name", type_sql) + ")"


def _shown(value_sql: str) -> str:
    """A value quoted for a detail message, cut short."""
    return f"'''' || left({value_sql}, 80) || ''''"


def _field_checks(rules: tuple[FieldRule, ...]) -> dict[str, list[str]]:
    """Problem expressions per reason; `t_<i>`/`v_<i>` are the JSON type/text of rule i."""
    index = {rule.path: position for position, rule in enumerate(rules, start=1)}
    checks: dict[str, list[str]] = {reason: [] for reason in REASONS}
    for rule in rules:
        i = index[rule.path]
        t, v = f"t_{i}", f"v_{i}"
        present = f"coalesce({t}, 'NULL') <> 'NULL'"
        name = _lit(rule.path)
        if rule.required:
            parent_ok = f"t_{index[rule.parent]} = 'OBJECT' and " if rule.parent else ""
            missing = _problem(MISSING_FIELD, name + " || ' is missing'")
            checks[MISSING_FIELD].append(f"case when {parent_ok}not ({present}) then {missing} end")
            if rule.type == "string":
                empty = _problem(MISSING_FIELD, name + " || ' is empty'")
                checks[MISSING_FIELD].append(
                    f"case when {t} = 'VARCHAR' and {v} = '' then {empty} end"
                )
        expected = _JSON_TYPE_NAMES[rule.type]
        wanted = _ARTICLE.get(rule.type, "a string")
        checks[WRONG_TYPE].append(
            f"case when {present} and {_not_one_of(t, expected)} then "
            + _problem(
                WRONG_TYPE,
                f"{name} || ' is ' || {_type_word(t)} || {_lit(', expected ' + wanted)}",
            )
            + " end"
        )
        if rule.type == "timestamp":
            checks[INVALID_TIMESTAMP].append(
                f"case when {t} = 'VARCHAR' and not ("
                f"regexp_full_match({v}, {_lit(RFC3339_PATTERN)})"
                f" and try_cast(upper({v}) as timestamptz) is not null) then "
                + _problem(
                    INVALID_TIMESTAMP,
                    f"{name} || ' ' || {_shown(v)} "
                    f"|| ' is not an RFC 3339 timestamp with an offset'",
                )
                + " end"
            )
        if rule.enum:
            checks[INVALID_ENUM].append(
                f"case when {t} = 'VARCHAR' and {_not_one_of(v, rule.enum)} then "
                + _problem(
                    INVALID_ENUM,
                    f"{name} || ' ' || {_shown(v)} || "
                    f"{_lit(' is not one of ' + ', '.join(rule.enum))}",
                )
                + " end"
            )
        number = v  # json_transform reads numbers as DOUBLE (see _shape)
        shown_number = f"cast({v} as varchar)"
        is_number = f"not ({_not_one_of(t, _JSON_TYPE_NAMES['number'])})"
        if rule.is_token_count:
            checks[NEGATIVE_TOKENS].append(
                f"case when {is_number} and {number} < 0 then "
                + _problem(NEGATIVE_TOKENS, f"{name} || ' is ' || {shown_number}")
                + " end"
            )
        bounds: list[str] = []
        if rule.minimum is not None:
            bounds.append(f"{number} < {rule.minimum!r}")
        if rule.maximum is not None:
            bounds.append(f"{number} > {rule.maximum!r}")
        if rule.one_of:
            bounds.append(f"{number} not in ({', '.join(repr(x) for x in rule.one_of)})")
        if bounds:
            allowed = _describe_range(rule)
            checks[OUT_OF_RANGE].append(
                f"case when {is_number} and ({' or '.join(bounds)}) then "
                + _problem(
                    OUT_OF_RANGE, f"{name} || ' is ' || {shown_number} || {_lit(', ' + allowed)}"
                )
                + " end"
            )
    return checks


def _describe_range(rule: FieldRule) -> str:
    if rule.one_of:
        return "expected one of " + ", ".join(f"{x:g}" for x in rule.one_of)
    if rule.maximum is None:
        return f"expected >= {rule.minimum:g}"
    return f"expected {rule.minimum:g} to {rule.maximum:g}"


def _shape(scalars: tuple[FieldRule, ...], with_messages: bool, with_content: bool) -> str:
    """The json_transform structure that reads every scalar field (and messages) at once.

    Strings and timestamps come out as text, numbers as DOUBLE (no number
    formatting), whatever their JSON type: the type itself is read
    separately (json_type), so a number where a string belongs is still
    reported. An object field that is not an object gives null members,
    which the type checks report instead.
    """
    tree: dict[str, Any] = {}
    for rule in scalars:
        *parents, leaf = rule.path.split(".")
        node = tree
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = "DOUBLE" if rule.type == "number" else "VARCHAR"
    if with_messages:
        message = {"role": "VARCHAR", "content": "JSON"} if with_content else {"role": "VARCHAR"}
        tree.setdefault("request", {})["messages"] = [message]
    return _lit(json.dumps(tree))


def _member(rule: FieldRule) -> str:
    """SQL reading `rule`'s value out of the `shape` struct."""
    return "shape" + "".join(f"[{_lit(key)}]" for key in rule.path.split("."))


def _messages_fine_sql(large_records: bool) -> str:
    """True when every message in `message_shapes` surely passes _message_problem_sql.

    Read from the one json_transform pass: a message that is not an object
    comes out with a null role, a role that is not a string never equals a
    role name, and content stays JSON text (null when absent or null). For
    large records the content's type comes from one json_type over every
    message's content (`content_types`) instead: writing a 30 MB content out
    as JSON takes some 8 times its size at once. Only the lines this does not
    clear pay for the exact, per-message checks that name the problem.
    """
    roles = "[" + ", ".join(_lit(role) for role in MESSAGE_ROLES) + "]"
    if large_records:
        return (
            "len(message_shapes) > 0 and list_bool_and(list_transform(message_shapes, "
            f"lambda m: list_contains({roles}, m.role))) "
            "and list_bool_and(list_transform(content_types, "
            "lambda t: t in ('VARCHAR', 'NULL', 'ARRAY')))"
        )
    return (
        "len(message_shapes) > 0 and list_bool_and(list_transform(message_shapes, lambda m: "
        f"list_contains({roles}, m.role) "
        "and (m.content is null or starts_with(m.content, '\"') "
        "or starts_with(m.content, '['))))"
    )


def _message_problem_sql() -> tuple[str, str]:
    """(wrong_type, invalid_enum) detail of the first bad message, from `msgs`.

    `msgs` holds per message {t: [type of message, of role, of content], role}.
    """
    where = "'request.messages[' || (i - 1) || ']'"
    bad_content = _not_one_of("m.t[3]", ("VARCHAR", "NULL", "ARRAY"))
    wrong_type = (
        "list_filter(list_transform(msgs, lambda m, i: case "
        f"when m.t[1] <> 'OBJECT' then {where} || ' is ' || {_type_word('m.t[1]')}"
        " || ', expected an object' "
        f"when coalesce(m.t[2], 'NULL') = 'NULL' then {where} || ' has no role' "
        f"when m.t[2] <> 'VARCHAR' then {where} || '.role is ' || {_type_word('m.t[2]')}"
        " || ', expected a string' "
        f"when {bad_content} then {where} || '.content is ' "
        f"|| {_type_word('m.t[3]')} || ', expected a string, null or a list' "
        "end), lambda p: p is not null)[1]"
    )
    invalid_enum = (
        "list_filter(list_transform(msgs, lambda m, i: case "
        f"when m.t[2] = 'VARCHAR' and {_not_one_of('m.role', MESSAGE_ROLES)} "
        f"then {where} || '.role ' || {_shown('m.role')} || "
        f"{_lit(' is not one of ' + ', '.join(MESSAGE_ROLES))} "
        "end), lambda p: p is not null)[1]"
    )
    return wrong_type, invalid_enum


#: A JSON string literal, to blank out string contents before looking for
#: tokens that DuckDB's lenient parser accepts but JSON (and PostgreSQL) do not.
JSON_STRING = r'"(?:[^"\\]|\\.)*"'
#: What DuckDB's parser accepts beyond JSON: NaN/Infinity (any case), trailing
#: commas; and numbers PostgreSQL's numeric cannot hold (it stops at
#: exponents of -16384 and +131072; 5-digit exponents are refused).
#: A number PostgreSQL's numeric cannot hold (see _NON_JSON_TOKENS).
HUGE_EXPONENT = r"[0-9][eE][+-]?[0-9]{5,}"
_NON_JSON_TOKENS = r"(?i)nan|inf|,\s*[\]}]|" + HUGE_EXPONENT
#: Cheap tests on the raw text that such a token may be there: each starts
#: with a literal byte, which RE2 finds with memchr, so a line without
#: candidates costs a fraction of one regex pass over it, and each asks for
#: the whole token (NaN/Infinity up to its delimiter, a number up to five
#: exponent digits), so words and hex ids in strings rarely send a line to
#: the exact check. Together they match every line that yyjson parses and
#: _NON_JSON_TOKENS flags once strings are blanked out: a value follows ':',
#: ',' or '[' and whitespace.
_VALUE_TOKEN = (
    r"\s*-?(?:(?:[nN][aA][nN]|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)\s*[,}\]]"
    r"|[0-9][0-9.]*[eE][+-]?[0-9]{5})"
)
_NON_JSON_HINTS = (
    ":" + _VALUE_TOKEN,
    "," + _VALUE_TOKEN,
    r"\[" + _VALUE_TOKEN,
    r",\s*[\]}]",
)
NUL_ESCAPE = r"(^|[^\\])(\\\\)*\\u0000"


def validation_sql(kind: RecordKind, large_records: bool = False) -> str:
    """SQL over table `chunk(source_line, line, is_utf8, record_hash)`: one row per non-blank line.

    Columns: source_line, raw_text, reason, detail (null when valid),
    record_id, parent_id, tenant_id, created_at, record_hash.

    Each line is parsed twice, whatever its size: one json_type call reads
    the type of the document and of every contract field (null: not JSON),
    one json_transform reads every scalar value and the messages. The
    detailed per-message checks run only for lines the cheap screen flags.
    `large_records` reads message content types with a third pass instead of
    writing the content out (see _messages_fine_sql): some 12% slower, for
    chunks whose records do not fit the other way.
    """
    spec = KIND_SPECS[kind]
    rules = spec.rules
    index = {rule.path: position for position, rule in enumerate(rules, start=1)}
    paths = "[" + ", ".join(_lit(p) for p in ["$", *("$." + rule.path for rule in rules)]) + "]"
    scalars = tuple(rule for rule in rules if rule.type not in ("object", "array"))
    unpacked = ",\n        ".join(
        # types[1] is the document's own type
        [f"types[{i + 1}] as t_{i}" for i in range(1, len(rules) + 1)]
        + [f"{_member(rule)} as v_{index[rule.path]}" for rule in scalars]
        + (["shape['request']['messages'] as message_shapes"] if spec.checks_messages else [])
    )
    checks = _field_checks(rules)
    messages_cte = ""
    from_checked = "fields"
    if spec.checks_messages:
        message_type, message_enum = _message_problem_sql()
        content_types_cte, screened_from = "", "fields"
        if large_records:
            content_types_cte = f"""messages_typed as (
    select
        *,
        case
            when t_{index["request.messages"]} = 'ARRAY'
                then json_type(raw_text, '$.request.messages[*].content')
        end as content_types
    from fields
),

"""
            screened_from = "messages_typed"
        checks[MISSING_FIELD].append(
            "case when len(msgs) = 0 then "
            + _problem(MISSING_FIELD, "'request.messages is empty'")
            + " end"
        )
        checks[WRONG_TYPE].append(
            f"case when message_type_problem is not null then "
            f"{_problem(WRONG_TYPE, 'message_type_problem')} end"
        )
        checks[INVALID_ENUM].append(
            f"case when message_enum_problem is not null then "
            f"{_problem(INVALID_ENUM, 'message_enum_problem')} end"
        )
        messages_cte = f""",

{content_types_cte}messages_screened as (
    select
        *,
        coalesce({_messages_fine_sql(large_records)}, false) as messages_fine
    from {screened_from}
),

with_messages as (
    select
        *,
        case
            when t_{index["request.messages"]} = 'ARRAY' and not messages_fine
                then list_transform(
                    json_extract(raw_text, '$.request.messages[*]'),
                    lambda m: {{
                        't': json_type(m, ['$', '$.role', '$.content']),
                        'role': json_extract_string(m, '$.role')
                    }}
                )
        end as msgs
    from messages_screened
),

with_message_problems as (
    select
        *,
        {message_type} as message_type_problem,
        {message_enum} as message_enum_problem
    from with_messages
)"""
        from_checked = "with_message_problems"
    ordered = [expr for reason in REASONS for expr in checks[reason]]
    problem = "coalesce(\n            " + ",\n            ".join(ordered) + "\n        )"
    id_i = index[spec.id_column]
    parent_sql = f"v_{index[spec.parent_column]}" if spec.parent_column else "null"
    tenant_i = index["tenant_id"]
    default_tenant = _lit(DEFAULT_TENANT)
    created_i = index["created_at"]
    invalid_json = _problem(INVALID_JSON, "'line is not valid JSON'")
    not_utf8 = _problem(INVALID_JSON, "'line is not valid UTF-8'")
    non_json_tokens = _problem(
        INVALID_JSON, "'NaN, Infinity, a trailing comma or a huge exponent is not JSON'"
    )
    nul_escape = _problem(INVALID_JSON, "'the \\u0000 escape cannot be stored'")
    not_an_object = _problem(NOT_AN_OBJECT, "'line is ' || " + _type_word("types[1]"))
    blank = _lit(r"\s*")
    hints = "\n                or ".join(
        f"regexp_matches(raw_text, {_lit(hint)})" for hint in _NON_JSON_HINTS
    )
    json_string = _lit(JSON_STRING)
    non_json = _lit(_NON_JSON_TOKENS)
    nul_text = _lit("\\u0000")
    nul_pattern = _lit(NUL_ESCAPE)
    shape = _shape(scalars, spec.checks_messages, with_content=not large_records)
    return f"""
with

records as (
    select
        source_line,
        line as raw_text,
        is_utf8,
        record_hash
    from chunk
    where not regexp_full_match(line, {blank})
),

typed as (
    select
        *,
        case when is_utf8 then try(json_type(raw_text, {paths})) end as types
    from records
),

parsed as (
    select
        *,
        case
            when not is_utf8
                then {not_utf8}
            when types is null
                then {invalid_json}
            when ({hints})
                and regexp_matches(regexp_replace(raw_text, {json_string}, '""', 'g'), {non_json})
                then {non_json_tokens}
            when contains(raw_text, {nul_text}) and regexp_matches(raw_text, {nul_pattern})
                then {nul_escape}
            when types[1] <> 'OBJECT'
                then {not_an_object}
        end as syntax_problem
    from typed
),

shaped as (
    select
        *,
        case when syntax_problem is null then json_transform(raw_text, {shape}) end as shape
    from parsed
),

fields as (
    select
        source_line,
        raw_text,
        record_hash,
        syntax_problem,
        {unpacked}
    from shaped
){messages_cte},

checked as (
    select
        source_line,
        raw_text,
        record_hash,
        coalesce(syntax_problem, {problem}) as problem,
        case when t_{id_i} = 'VARCHAR' then v_{id_i} end as record_id,
        {parent_sql} as parent_id,
        case when t_{tenant_i} = 'VARCHAR' then v_{tenant_i} else {default_tenant} end
            as tenant_id,
        v_{created_i} as created_at_text
    from {from_checked}
)

select
    source_line,
    raw_text,
    problem.reason as reason,
    problem.detail as detail,
    record_id,
    parent_id,
    tenant_id,
    case when problem is null then cast(upper(created_at_text) as timestamptz) end as created_at,
    record_hash
from checked
"""
