"""One line of JSON text checked against the contract, and its content fingerprint.

`check` runs, in order: strict JSON (msgspec: no NaN, Infinity, trailing
commas, raw control characters or invalid UTF-8), an object, no key
repeated in one object, the Structs of trellis.ingest.contract, then what
they cannot say (timestamps, doubles, cross-field rules). The first failure
is the line's quarantine reason; there is no other source of reasons.

The fingerprint (`record_hash`) is xxh3-128 of a canonical encoding of the
parsed value: keys sorted, strings re-escaped, numbers spelled one way
(integral values as integers, others as normalized decimals). Two records
get the same fingerprint exactly when they hold the same JSON value, so key
order, whitespace, escapes and number spelling never make a false conflict,
while `true` and `1` stay different.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec
import numpy
import xxhash

from trellis.ingest import contract as c

__all__ = ["Problem", "Rejected", "Valid", "check", "fingerprint", "parse"]

#: Version of the record_hash meaning; trellis.ingest.rehash brings stored rows to it.
HASH_VERSION = "xxh3-128/canonical-json/1"


class Valid(NamedTuple):
    record_id: str
    parent_id: str | None
    tenant_id: str
    #: Microseconds since 1970-01-01 UTC.
    created_at: int
    record_hash: str
    #: The record names its tenant (else tenant_id is the default one).
    tenant_given: bool


class Problem(NamedTuple):
    reason: str
    detail: str
    record_id: str | None = None


class _Refused(ValueError):
    """A number or key the targets cannot store, found while parsing."""


class Fraction:
    """A JSON number written with a fraction or an exponent, as written.

    It is neither an int nor a float to the Structs, so a count written
    `1.0` is refused where an integer belongs (PostgreSQL's bigint cast
    refuses it too), and a double field can check what it really holds.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _fraction(text: str) -> Fraction:
    """msgspec's float_hook."""
    if len(text.lower().partition("e")[2].lstrip("+-")) >= 5:
        # PostgreSQL's numeric stops at exponents of -16383 and +131072
        raise _Refused(f"number {text[:40]} has a huge exponent, which is not storable")
    return Fraction(text)


def _canonical_number(value: Any) -> Any:
    """The encoder's enc_hook: a Fraction spelled one way (integral values as integers)."""
    if not isinstance(value, Fraction):
        raise TypeError(f"{type(value).__name__} is not JSON")
    number = Decimal(value.text)
    if number == number.to_integral_value() and number.adjusted() < 4000:
        return int(number)  # the integer's own spelling (Python prints 4300 digits at most)
    return number.normalize()


_decode_value = msgspec.json.Decoder(float_hook=_fraction).decode
_encode_canonical = msgspec.json.Encoder(
    order="sorted", decimal_format="number", enc_hook=_canonical_number
).encode

#: Per kind, the Double fields as attribute paths, with their rules.
_NUMBERS = {
    kind: [(path, tuple(path.split(".")), rule) for path, rule in rules.items()]
    for kind, rules in c.NUMBER_RULES.items()
}
#: How the escapes that need a closer look start (re's search for a literal
#: is quicker on JSON text than bytes' `in`).
_ESCAPE = re.compile(rb"\\u00")
_NUL_ESCAPE = re.compile(rb"(?:^|[^\\])(?:\\\\)*\\u0000")
#: RFC 3339 with a mandatory offset, upper-case T (or a space) and Z: the
#: spellings DuckDB and PostgreSQL both cast alike.
_TIMESTAMP = re.compile(
    r"(\d{4})-\d{2}-\d{2}[T ](\d{2}):\d{2}:(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))"
)
#: The spelling most logs use, which needs none of the checks below but the date's.
_UTC_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,6})?Z")
MAX_OFFSET_HOURS = 14
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
MIN_YEAR, MAX_YEAR = 1, 9999


def fingerprint(value: Any) -> str:
    """The record_hash of a parsed JSON value (see the module docstring)."""
    return xxhash.xxh3_128_hexdigest(_encode_canonical(value))


def parse(raw: bytes) -> Any:
    """`raw` parsed as strict JSON (numbers kept as written); raises Rejected on failure."""
    try:
        return _decode_value(raw)
    except UnicodeDecodeError:
        raise _problem(c.INVALID_JSON, "line is not valid UTF-8") from None
    except RecursionError:
        raise _problem(c.INVALID_JSON, "line nests too deep (about 1,000 levels at most)") from None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        message = str(exc)
        if "huge exponent" in message:
            raise _problem(c.INVALID_JSON, message.split(" - at ")[0]) from None
        raise _problem(c.INVALID_JSON, _malformed(raw, message)) from None


class Rejected(Exception):
    """A line refused (parse raises it; check returns its Problem)."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def _problem(reason: str, detail: str, record_id: str | None = None) -> Rejected:
    return Rejected(Problem(reason, detail, record_id))


def _malformed(raw: bytes, message: str) -> str:
    if b"\x00" in raw:
        return "line holds a NUL byte, which is not JSON"
    text = re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', raw)
    if re.search(rb"(?i)nan|inf", text):
        return "NaN and Infinity are not JSON"
    if re.search(rb",\s*[\]}]", text):
        return "a trailing comma is not JSON"
    return f"line is not valid JSON ({message})"


def check(kind: c.RecordKind, raw: bytes) -> Valid | Problem:
    """`raw` (one line, no line end) checked."""
    try:
        return _checked(kind, raw, parse(raw))
    except Rejected as exc:
        return exc.problem


def _checked(kind: c.RecordKind, raw: bytes, value: Any) -> Valid:
    if not isinstance(value, dict):
        raise _problem(c.NOT_AN_OBJECT, f"line is {_type_word(value)}")
    spec = c.KIND_SPECS[kind]
    found = value.get(spec.id_column)
    record_id = found if isinstance(found, str) else None
    encoded = _encode_canonical(value)
    # the escapes that need a closer look (\u0000, \u003a) all start so
    escaped = _ESCAPE.search(raw) is not None
    if _has_repeated_key(raw, encoded, escaped):
        raise _problem(c.DUPLICATE_KEY, "a key is repeated in one object", record_id)
    if escaped and _NUL_ESCAPE.search(raw):
        raise _problem(c.INVALID_JSON, "the \\u0000 escape cannot be stored", record_id)
    try:
        record: Any = msgspec.convert(value, spec.struct)
    except msgspec.ValidationError as exc:
        raise _problem(*_classified(str(exc)), record_id) from None
    try:
        created_at = timestamp(record.created_at)
        if kind == "requests":
            _check_request(record, created_at)
        for path, names, rule in _NUMBERS[kind]:
            target: Any = record
            for name in names:
                target = getattr(target, name, None)
            if target is not None:
                double(path, target, rule)
    except _Invalid as exc:
        raise _problem(exc.reason, exc.detail, record_id) from None
    return Valid(
        record.__getattribute__(spec.id_column),
        getattr(record, spec.parent_column) if spec.parent_column else None,
        record.tenant_id if record.tenant_id is not None else c.DEFAULT_TENANT,
        created_at,
        xxhash.xxh3_128_hexdigest(encoded),
        record.tenant_id is not None,
    )


class _Invalid(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        self.reason, self.detail = reason, detail


def _check_request(record: c.RequestRecord, created_at: int) -> None:
    if record.completed_at is not None:
        completed = timestamp(record.completed_at, "completed_at")
        if completed < created_at:
            raise _Invalid(c.INCONSISTENT, "completed_at is before created_at")
    usage = record.response.usage if record.response is not None else None
    if usage is not None:
        details = usage.prompt_tokens_details
        cached = details.cached_tokens if details is not None else None
        if cached is not None and cached > (usage.prompt_tokens or 0):
            raise _Invalid(
                c.INCONSISTENT,
                "response.usage.prompt_tokens_details.cached_tokens exceeds prompt_tokens",
            )


def timestamp(text: str, name: str = "created_at") -> int:
    """An RFC 3339 timestamp as both targets read it (docs/contract, section 4), in
    microseconds since 1970-01-01 UTC."""
    if _UTC_TIMESTAMP.fullmatch(text):  # the usual spelling, in short
        try:
            return (dt.datetime.fromisoformat(text) - _EPOCH) // _MICROSECOND
        except ValueError:
            pass  # no such date: said below
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        raise _Invalid(
            c.INVALID_TIMESTAMP,
            f"{name} {text[:80]!r} is not an RFC 3339 timestamp with an offset",
        )
    year, hour, second, offset_hours, offset_minutes = match.groups()
    why = ""
    if hour == "24" or second == "60":
        why = "24:00 and leap seconds are not accepted"
    elif offset_hours is not None and (
        int(offset_hours) * 60 + int(offset_minutes) > MAX_OFFSET_HOURS * 60
        or int(offset_minutes) > 59
    ):
        why = f"offsets beyond +-{MAX_OFFSET_HOURS}:00 are not accepted"
    elif int(year) < MIN_YEAR:
        why = f"not a date of years {MIN_YEAR} to {MAX_YEAR} in UTC"
    else:
        try:
            value = dt.datetime.fromisoformat(text).astimezone(dt.UTC)
        except ValueError:
            value, why = None, "no such date or time"
        except OverflowError:
            value = None
        if value is not None and MIN_YEAR <= value.year <= MAX_YEAR:
            return (value - _EPOCH) // _MICROSECOND
        why = why or f"not a date of years {MIN_YEAR} to {MAX_YEAR} in UTC"
    raise _Invalid(c.INVALID_TIMESTAMP, f"{name} {text[:80]!r} is not accepted: {why}")


def double(path: str, value: Any, rule: c.NumberRule) -> float:
    """A number field both targets read as a double: finite, storable, within `rule`."""
    if (
        type(value) is int
        and -c.DOUBLE_MAX <= value <= c.DOUBLE_MAX
        and not rule.one_of
        and (rule.minimum is None or value >= rule.minimum)
        and (rule.maximum is None or value <= rule.maximum)
    ):
        return value  # the usual case, in short
    if isinstance(value, Fraction):
        text = value.text
        number = float(text)
        if (
            not math.isfinite(number)
            or abs(number) > c.DOUBLE_MAX
            or (abs(number) < c.DOUBLE_MIN and _NONZERO.search(text.lower().partition("e")[0]))
        ):
            raise _Invalid(c.OUT_OF_RANGE, f"{path} is {text[:40]}, not storable as a double")
        if rule.one_of:
            allowed = " or ".join(str(x) for x in rule.one_of)
            raise _Invalid(c.OUT_OF_RANGE, f"{path} is {text}, expected {allowed}")
    elif isinstance(value, int) and not isinstance(value, bool):
        number, text = float(value) if abs(value) <= c.DOUBLE_MAX else math.inf, str(value)
        if abs(value) > c.DOUBLE_MAX:
            raise _Invalid(c.OUT_OF_RANGE, f"{path} is {text[:40]}, not storable as a double")
        if rule.one_of and value not in rule.one_of:
            allowed = " or ".join(str(x) for x in rule.one_of)
            raise _Invalid(c.OUT_OF_RANGE, f"{path} is {text}, expected {allowed}")
    else:
        raise _Invalid(c.WRONG_TYPE, f"{path} is {_type_word(value)}, expected a number")
    if rule.minimum is not None and number < rule.minimum:
        raise _Invalid(c.OUT_OF_RANGE, f"{path} is {text}, expected >= {rule.minimum:g}")
    if rule.maximum is not None and number > rule.maximum:
        raise _Invalid(
            c.OUT_OF_RANGE, f"{path} is {text}, expected {rule.minimum:g} to {rule.maximum:g}"
        )
    return number


_NONZERO = re.compile(r"[1-9]")


def _classified(message: str) -> tuple[str, str]:
    """A msgspec ValidationError as (reason, detail)."""
    text, _, where = message.partition(" - at `$")
    path = where.rstrip("`").lstrip(".")
    if text.startswith("Object missing required field"):
        field = text.split("`")[1]
        full = f"{path}.{field}" if path else field
        if "[" in path:  # a message without its role: the element has the wrong shape
            return c.WRONG_TYPE, f"{path} has no {field}"
        return c.MISSING_FIELD, f"{full} is missing"
    if text.endswith("got `null`"):
        return c.MISSING_FIELD, f"{path} is missing"
    if "length >= 1" in text:
        return c.MISSING_FIELD, f"{path} is empty"
    if text.startswith("Invalid enum value"):
        return c.INVALID_ENUM, f"{path} {text.removeprefix('Invalid enum value ')} is not allowed"
    if text.startswith("Expected `int` >= 0") and path.endswith("_tokens"):
        return c.NEGATIVE_TOKENS, f"{path} is negative"
    if ">=" in text or "<=" in text or text.startswith("Number out of range"):
        return c.OUT_OF_RANGE, f"{path}: {text}"
    if text.startswith("Expected"):
        return c.WRONG_TYPE, f"{path}: {text}"
    return c.WRONG_TYPE, f"{path}: {text}" if path else text


def _has_repeated_key(raw: bytes, encoded: bytes, escaped: bool) -> bool:
    """Whether an object of `raw` names a key twice (parsing keeps only one of them).

    Every key is followed by one colon, and colons inside strings are the
    same in the raw text and the canonical encoding, so the raw text holds
    more colons exactly when a key repeats; unless an escape spells a colon
    (\\u003a): only then is the text parsed again, pair by pair.
    """
    if not escaped or b"\\u003" not in raw:
        return _colons(raw) != _colons(encoded)
    repeated = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        keys = [key for key, _ in items]
        repeated = repeated or len(set(keys)) != len(keys)
        return dict(items)

    json.loads(raw, object_pairs_hook=pairs)
    return repeated


_COLON = ord(":")


def _colons(text: bytes) -> int:
    """How many colons `text` holds (NumPy compares the bytes in bulk; bytes.count
    looks at one byte at a time)."""
    return int(numpy.count_nonzero(numpy.frombuffer(text, numpy.uint8) == _COLON))


def _type_word(value: Any) -> str:
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return "a number"
