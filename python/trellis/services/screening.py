"""A fast screen in front of the validation SQL: clears the lines that surely pass.

Most lines of real traffic are fine. For them the contract is checked by a
msgspec decoder built from the same rule tables as the SQL
(trellis.services.contract): typed structs for the contract's fields (types,
required fields, non-empty strings, enums, bounds, messages with a known role
and a string, null or list content), every other field skipped. msgspec
reads JSON strictly, so NaN, Infinity and trailing commas fail it. The
fields the screen reads (id, tenant, parent, timestamps, `one_of` numbers)
go through a decode hook that checks them and refuses a field named twice.
What the decoder does not see is checked in Arrow: timestamps (the
contract's RFC 3339 pattern, then a cast) and, on the raw text, exponents of
five or more digits and the \\u0000 escape (`with_suspects`: a hit sends its
lines on).

The decoding runs in C where the extension trellis._screen is built (it is
when a C compiler is at hand; `NATIVE` says): the same structs, compiled into
a schema for a one-pass strict JSON parser that also refuses those exponents
and escapes exactly, outside the GIL (measured on demo traffic: 5.4 us a line
for the whole screen, against 9.4 with msgspec plus some 4 for the regular
expressions on the raw text, which the C screen needs none of). The msgspec
decoder is the fallback, and the tests hold the two to the same lines.

The screen is one-sided by construction: a line it clears is one the SQL
accepts, with the same id, parent, tenant and timestamp (tested on every
contract breach and on tricky valid lines). Every other line (a breach, or
a valid line the screen cannot vouch for) goes to the SQL, which decides
and names the reason. So reasons and details have one source, the SQL.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Annotated, Any, Literal

import msgspec
import msgspec.inspect as mi
import numpy
import pyarrow as pa
import pyarrow.compute as pc

from trellis.arrow_rows import UTC_TIMESTAMP, fixed_width_strings, pick
from trellis.native import extension as _native
from trellis.services.contract import (
    DEFAULT_TENANT,
    HUGE_EXPONENT,
    JSON_STRING,
    KIND_SPECS,
    MESSAGE_ROLES,
    NUL_ESCAPE,
    RFC3339_PATTERN,
    FieldRule,
    RecordKind,
)
from trellis.services.line_chunks import CHUNK_SCHEMA, line_offsets

__all__ = [
    "NATIVE",
    "SUSPECT",
    "Screen",
    "Screened",
    "ScreenedChunk",
    "screened_chunk",
    "with_suspects",
]

#: Raw-text tokens the decoder does not see: a number with an exponent of 5
#: or more digits (in a skipped field; PostgreSQL's numeric refuses them),
#: or the \u0000 escape (which PostgreSQL cannot store). The exponent
#: must be followed by what ends a number, so hex ids in strings rarely hit.
_UNSEEN_TOKENS = (r"\\u0000", r"[eE][+-]?[0-9]{5,}[\s,\]}]")
#: The column with_suspects adds to a line chunk.
SUSPECT = "suspect"
#: Whether the C screen (trellis._screen) is built: Screen uses it by default.
NATIVE = _native is not None


# gc=False: decoded structs hold no cycles, and untracked ones are cheaper to
# make (measured: 4.0 to 3.3 us a demo line, 41 messages a line on average)
class _Message(msgspec.Struct, gc=False):
    role: Literal[MESSAGE_ROLES]  # type: ignore[valid-type]
    content: str | list[msgspec.Raw] | None = None


class _AnyObject(msgspec.Struct, gc=False):
    """A JSON object, its members skipped."""


def _leaf_type(rule: FieldRule, checks_messages: bool) -> Any:
    """The msgspec type a value of `rule` must decode as (None aside)."""
    if rule.type in ("string", "timestamp"):
        if rule.enum:
            return Literal[rule.enum]
        return Annotated[str, msgspec.Meta(min_length=1)] if rule.required else str
    if rule.type == "number":
        low = 0 if rule.is_token_count else rule.minimum
        return Annotated[float, msgspec.Meta(ge=low, le=rule.maximum)]
    if rule.type == "array":
        if checks_messages and rule.path == "request.messages":
            return Annotated[list[_Message], msgspec.Meta(min_length=1)]
        return list[msgspec.Raw]
    return _AnyObject


def _struct(
    name: str,
    rules: tuple[FieldRule, ...],
    prefix: str,
    checks_messages: bool,
    read: Mapping[str, type] | None = None,
) -> Any:
    """A struct for the object at `prefix` ('' for the record), from the rules below it.

    An object the rules only imply (`response.usage.prompt_tokens_details`
    has no rule of its own) is decoded as an optional object too: stricter
    than the SQL, which skips the checks below a non-object, so such a line
    goes to the SQL.
    """
    by_path = {rule.path: rule for rule in rules}
    start = prefix + "." if prefix else ""
    members = dict.fromkeys(
        rule.path[len(start) :].split(".", 1)[0] for rule in rules if rule.path.startswith(start)
    )
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    for member in members:
        path = start + member
        rule = by_path.get(path)
        if read and path in read:
            value_type = read[path]
        elif any(other.startswith(path + ".") for other in by_path):
            value_type = _struct(f"{name}_{member}", rules, path, checks_messages)
        elif rule is not None:
            value_type = _leaf_type(rule, checks_messages)
        if read and path in read:  # the decode hook sees every value, null too
            fields.append(
                (member, value_type) if rule and rule.required else (member, value_type, None)
            )
        elif rule is not None and rule.required:
            fields.append((member, value_type))
        else:
            fields.append((member, value_type | None, None))
    # required fields first: msgspec wants defaults last; JSON order is free
    fields.sort(key=len)
    return msgspec.defstruct(name, fields, gc=False)


@dataclass(frozen=True)
class ScreenedChunk:
    """A line chunk after the screen: what goes on as valid rows, what the SQL must decide."""

    source: str
    #: Lines the chunk held (blank ones included).
    lines: int
    #: The cleared lines: source_line, record_id, parent_id, tenant_id,
    #: created_at, record_hash, line.
    cleared: pa.Table
    #: The other lines, as chunk rows (CHUNK_SCHEMA) for the validation SQL.
    left: pa.Table
    #: Those lines already classified by the SQL (validation.CHECKED_SCHEMA),
    #: when the screening process ran it; None: the SQL is still to run.
    decided: pa.Table | None = None


def screened_chunk(screen: Screen, source: str, chunk: pa.Table) -> ScreenedChunk:
    """Screen one line chunk (with or without its suspect column) into a ScreenedChunk.

    Pure Arrow and msgspec: it runs on one of ingest's threads (the validator's,
    or the reader's for the first chunks of a large input), or in the screening
    process (trellis.services.screen_worker).
    """
    screened = screen.screen(chunk)
    texts, hashes = chunk.column("line"), chunk.column("record_hash")
    if screened.columns.num_rows < chunk.num_rows:
        cleared = screened.cleared.to_pylist()
        texts, hashes = pick(texts, cleared), pick(hashes, cleared)
    if screened.fingerprints is not None:
        # the content's fingerprint where the C screen has one, else the text's
        hashes = pc.coalesce(screened.fingerprints, hashes)
    columns = screened.columns.append_column("record_hash", hashes).append_column("line", texts)
    left = pick(chunk.select(CHUNK_SCHEMA.names), screened.rest.to_pylist())
    return ScreenedChunk(source, chunk.num_rows, columns, left)


@dataclass(frozen=True)
class Screened:
    """One chunk, screened: which rows were cleared, their columns, and the rest."""

    #: Positions (in the chunk) of the cleared lines, in order.
    cleared: pa.Array
    #: For the cleared lines: source_line, record_id, parent_id, tenant_id, created_at.
    columns: pa.Table
    #: Positions of the lines the SQL must decide.
    rest: pa.Array
    #: For the cleared lines: their content fingerprints (the C screen's, see
    #: is_content_hash), null where a line has none; None: the screen makes none.
    fingerprints: pa.Array | None = None


def is_content_hash(record_hash: str) -> bool:
    """Whether a record_hash fingerprints the record's content (the C screen's: "c" and 32
    hex digits) rather than its text (line_chunks: 32 hex digits). Two records with
    content fingerprints have the same content exactly when their fingerprints match."""
    return len(record_hash) == CONTENT_HASH_LENGTH and record_hash[0] == "c"


#: Characters of a content fingerprint (see trellis._screen).
CONTENT_HASH_LENGTH = 33


class _Read:
    """Marks a field the screen reads: the decode hook checks and keeps its value."""

    __slots__ = ()


class Screen:
    """The fast screen of one record kind.

    The fields the screen reads (id, tenant, parent, timestamps, `one_of`
    numbers) are decoded through a hook that keeps their values and refuses
    a field named twice in a record: msgspec keeps the last value where the
    SQL reads the first, so such lines go to the SQL.
    """

    def __init__(self, kind: RecordKind, native: bool | None = None) -> None:
        """`native`: decode in C (the default where it is built) or with msgspec."""
        spec = KIND_SPECS[kind]
        self._spec = spec
        self._timestamps = [rule.path for rule in spec.rules if rule.type == "timestamp"]
        rules = {rule.path: rule for rule in spec.rules}
        read = [spec.id_column, "tenant_id", *self._timestamps]
        read += [spec.parent_column] if spec.parent_column else []
        read += [rule.path for rule in spec.rules if rule.one_of]
        if any("." in path for path in read):
            raise ValueError("the screen reads top-level fields only")
        self._read = read
        markers = {path: type(f"_Read_{path}", (_Read,), {"__slots__": ()}) for path in read}
        self._found: dict[str, Any] = {}
        #: The markers the hook met in the line being decoded.
        self._met: set[type] = set()
        record_type = _struct(f"{kind}_record", spec.rules, "", spec.checks_messages, markers)
        hook = _read_hook(
            {marker: (path, _value_check(rules[path])) for path, marker in markers.items()},
            self._found,
            self._met,
        )
        self._decode = msgspec.json.Decoder(record_type, dec_hook=hook).decode
        self._get = itemgetter(*read)
        self._nothing = dict.fromkeys(read)
        self.native = NATIVE if native is None else native
        if self.native:
            if _native is None:
                raise RuntimeError("the C screen (trellis._screen) is not built")
            reads = {
                marker: (index, rules[path]) for index, (path, marker) in enumerate(markers.items())
            }
            self._schema = _native.compile_schema(_native_node(mi.type_info(record_type), reads))

    def marked(self, chunk: pa.Table) -> pa.Table:
        """`chunk` ready for `screen`: for the msgspec screen, with its suspect lines marked
        (`with_suspects`, Arrow work outside the GIL that ingest does on a reader thread);
        the C screen needs no marks."""
        return chunk if self.native else with_suspects(chunk)

    def screen(self, chunk: pa.Table) -> Screened:
        """Decode each line of `chunk` that may be clean; check the rest in Arrow.

        `chunk` is a line chunk (CHUNK_SCHEMA). The msgspec screen reads the
        `suspect` column of `with_suspects` (computed here when absent); the C
        screen ignores it: it skips the lines of invalid UTF-8 and sees the
        rest exactly.
        """
        if self.native:
            return self._checked(chunk, *self._native_screen(chunk))
        if SUSPECT not in chunk.column_names:
            chunk = with_suspects(chunk)
        positions: list[int] = []
        values: list[tuple[Any, ...]] = []
        decode, get, found, nothing = self._decode, self._get, self._found, self._nothing
        met = self._met
        suspects = chunk.column(SUSPECT)
        # one list for the chunk: an Arrow call a batch cost some 2 s per million
        # lines in the screening process (each one waits for the lock again)
        suspect = suspects.to_pylist() if pc.any(suspects).as_py() else None
        position = 0
        for batch_lines in chunk.column("line").chunks:
            offsets = line_offsets(batch_lines)
            buffer = batch_lines.buffers()[2]
            data = memoryview(buffer) if buffer is not None else memoryview(b"")
            for index, (start, end) in enumerate(itertools.pairwise(offsets), position):
                if suspect is not None and suspect[index]:
                    continue
                found.update(nothing)
                met.clear()
                try:
                    decode(data[start:end])
                # ValidationError is a DecodeError; msgspec gives up on some
                # 1,000 levels of nesting, which the SQL reads
                except (msgspec.DecodeError, RecursionError):
                    continue
                values.append(get(found))
                positions.append(index)
            position += len(batch_lines)
        return self._checked(
            chunk,
            positions,
            dict(zip(self._read, _transpose(values, len(self._read)), strict=True)),
        )

    def _native_screen(
        self, chunk: pa.Table
    ) -> tuple[pa.Array, dict[str, pa.Array | None], pa.Array]:
        """The C screen's pass: the cleared lines' positions, the string values of the read
        fields in them (None for a number read for its one_of: only strings are used),
        and their content fingerprints (null where a line has none). Arrow arrays made
        from the pass's buffers: no Python object a line."""
        assert _native is not None
        is_utf8 = chunk.column("is_utf8")
        unreadable = None if pc.all(is_utf8).as_py() else pc.invert(is_utf8).to_pylist()
        positions: list[numpy.ndarray[Any, Any]] = []
        columns: list[list[pa.Array]] = [[] for _ in self._read]
        fingerprints: list[bytes] = []
        position = 0
        for lines in chunk.column("line").chunks:
            count = len(lines)
            if not count:  # (an empty array may have no offsets buffer)
                continue
            _, offsets, data = lines.buffers()
            skip = None if unreadable is None else bytes(unreadable[position : position + count])
            found, values, hexes = _native.screen_lines(
                self._schema, data, offsets, lines.offset, count, skip
            )
            positions.append(numpy.frombuffer(found, numpy.int64) + position)
            kept = len(found) // 8
            for column, buffers in zip(columns, values, strict=True):
                if buffers is not None:
                    column.append(_string_array(kept, *buffers))
            fingerprints.append(hexes)
            position += count
        cleared = pa.array(numpy.concatenate(positions) if positions else [], pa.int64())
        read = {
            path: pa.concat_arrays(column) if column else None
            for path, column in zip(self._read, columns, strict=True)
        }
        return cleared, read, _hex_array(fingerprints)

    def _checked(
        self,
        chunk: pa.Table,
        positions: pa.Array | list[int],
        values: Mapping[str, pa.Array | list[Any] | None],
        fingerprints: pa.Array | None = None,
    ) -> Screened:
        """The Arrow checks of the decoded values (`values`: the read fields' values in the
        decoded lines, strings; None: no line was decoded); rows failing one go to the SQL."""
        cleared = positions if isinstance(positions, pa.Array) else pa.array(positions, pa.int64())
        count = len(cleared)
        spec = self._spec
        used = {*self._timestamps, spec.id_column, "tenant_id", spec.parent_column}
        columns = {
            path: (
                column
                if isinstance(column, pa.Array)
                else pa.array(column if column is not None else [None] * count, pa.string())
            )
            for path, column in values.items()
            if path in used
        }
        fine = pa.repeat(True, count) if count else pa.array([], pa.bool_())
        stamps: dict[str, pa.Array] = {}
        for path in self._timestamps:
            text = pc.utf8_upper(columns[path])
            shaped = pc.match_substring_regex(text, f"^(?:{RFC3339_PATTERN})$")
            fine = pc.and_kleene(fine, pc.or_kleene(pc.is_null(text), shaped))
            stamps[path] = _cast_timestamps(pc.if_else(shaped, text, None))
            fine = pc.and_(fine, pc.equal(pc.is_null(text), pc.is_null(stamps[path])))
        table = pa.table(
            {
                "source_line": chunk.column("source_line").take(cleared),
                "record_id": columns[spec.id_column],
                "parent_id": (
                    columns[spec.parent_column]
                    if spec.parent_column
                    else pa.nulls(count, pa.string())
                ),
                "tenant_id": pc.fill_null(columns["tenant_id"], DEFAULT_TENANT),
                "created_at": stamps["created_at"],
            }
        )
        if not pc.all(fine).as_py():
            table, cleared = table.filter(fine), cleared.filter(fine)
            fingerprints = None if fingerprints is None else fingerprints.filter(fine)
        every = pa.array(range(chunk.num_rows), pa.int64())
        rest = every.filter(pc.invert(pc.is_in(every, value_set=cleared)))
        return Screened(cleared, table, rest, fingerprints)


def _string_array(
    count: int, validity: bytes | None, offsets: bytes, data: bytes, nulls: int
) -> pa.Array:
    """A string array from the C screen's buffers of one read field (see screen_lines)."""
    large = len(offsets) == 8 * (count + 1)
    array = pa.Array.from_buffers(
        pa.large_string() if large else pa.string(),
        count,
        [
            None if validity is None else pa.py_buffer(validity),
            pa.py_buffer(offsets),
            pa.py_buffer(data),
        ],
        null_count=nulls,
    )
    return array.cast(pa.string()) if large else array


def _hex_array(parts: list[bytes]) -> pa.Array:
    """The C screen's fingerprints (CONTENT_HASH_LENGTH bytes each, zeros for none) as
    strings, null for none."""
    data = b"".join(parts)
    hexes = fixed_width_strings(data, CONTENT_HASH_LENGTH)
    missing = numpy.frombuffer(data, numpy.uint8)[::CONTENT_HASH_LENGTH] == 0
    if missing.any():
        hexes = pc.if_else(pa.array(~missing), hexes, pa.scalar(None, pa.string()))
    return hexes


def _read_hook(
    checks: dict[type, tuple[str, Callable[[Any], bool]]], found: dict[str, Any], met: set[type]
) -> Callable[[type, Any], Any]:
    """The decode hook of the fields the screen reads (a closure: it runs some 4 times a
    line): it checks each value, keeps it in `found`, and refuses a field met twice."""
    entries = {marker: (path, check, marker()) for marker, (path, check) in checks.items()}

    def hook(marker: type, value: Any) -> Any:
        path, check, instance = entries[marker]
        if marker in met or not check(value):  # met twice: even `null` then a value
            raise ValueError(f"{path} is repeated or not as the contract says")
        met.add(marker)
        found[path] = value
        return instance

    return hook


#: A schema node of the C screen (see _native_node and trellis/_screen.c):
#: (allowed JSON types, string not empty, enum, number converted, minimum,
#: maximum, one_of, array items, fewest items, struct fields, read index,
#: read value kept).
_Node = tuple[
    int,
    bool,
    tuple[bytes, ...],
    bool,
    float | None,
    float | None,
    tuple[float, ...],
    Any,
    int,
    tuple[tuple[bytes, Any, bool], ...] | None,
    int,
    bool,
]


def _native_node(info: mi.Type, reads: Mapping[type, tuple[int, FieldRule]]) -> _Node:
    """The C screen's schema node of a msgspec type of the screen's structs.

    `reads` maps the marker type of each field the screen reads to its index
    in a row of values and its rule; the node checks what `_value_check`
    checks. A type the C screen does not know raises: a change of the
    structs must come with its C twin.
    """
    assert _native is not None
    allow, nonempty, typed, arr_min, read, keep = 0, False, False, 0, -1, False
    enum: tuple[bytes, ...] = ()
    low: float | None = None
    high: float | None = None
    one_of: tuple[float, ...] = ()
    items: _Node | None = None
    fields: tuple[tuple[bytes, Any, bool], ...] | None = None
    for part in info.types if isinstance(info, mi.UnionType) else (info,):
        if isinstance(part, mi.NoneType):
            allow |= _native.T_NULL
        elif (
            isinstance(part, mi.StrType)
            and (part.min_length or 0) <= 1  # the C twin knows "not empty" only
            and part.max_length is None
            and part.pattern is None
        ):
            allow |= _native.T_STR
            nonempty = bool(part.min_length)
        elif isinstance(part, mi.LiteralType) and all(type(v) is str for v in part.values):
            allow |= _native.T_STR
            enum = tuple(str(value).encode() for value in part.values)
        elif isinstance(part, mi.FloatType) and part.gt is part.lt is part.multiple_of is None:
            allow |= _native.T_NUM
            typed, low, high = True, part.ge, part.le
        elif isinstance(part, mi.ListType) and part.max_length is None:
            allow |= _native.T_ARR
            arr_min = part.min_length or 0
            if not isinstance(part.item_type, mi.RawType):
                items = _native_node(part.item_type, reads)
        elif (
            isinstance(part, mi.StructType)
            and not part.array_like
            and part.tag_field is None
            and not part.forbid_unknown_fields
        ):
            allow |= _native.T_OBJ
            if part.fields:  # else any object
                fields = tuple(
                    (field.encode_name.encode(), _native_node(field.type, reads), field.required)
                    for field in part.fields
                )
        elif isinstance(part, mi.CustomType) and part.cls in reads:
            read, rule = reads[part.cls]
            if rule.enum or rule.minimum is not None or rule.maximum is not None:
                # _value_check ignores them: so does the C twin, and neither may
                raise ValueError(f"the C screen has no twin of {part} ({rule})")
            if rule.type == "number":  # read for its one_of (see _value_check)
                allow |= _native.T_NULL | _native.T_NUM
                typed, one_of = True, tuple(float(value) for value in rule.one_of)
            else:
                allow |= _native.T_STR if rule.required else _native.T_STR | _native.T_NULL
                nonempty, keep = rule.required, True
        else:
            raise ValueError(f"the C screen has no twin of {part}")
    low = None if low is None else float(low)
    high = None if high is None else float(high)
    return (allow, nonempty, enum, typed, low, high, one_of, items, arr_min, fields, read, keep)


def _value_check(rule: FieldRule) -> Callable[[Any], bool]:
    """What a value of a field the screen reads must be (None: null or absent)."""
    if rule.type == "number":  # the screen reads numbers for their one_of only
        allowed = rule.one_of
        return lambda value: (
            value is None
            or (
                type(value) in (int, float) and value in allowed  # not bool, a subclass of int
            )
        )
    if rule.required:
        return lambda value: type(value) is str and value != ""
    return lambda value: value is None or type(value) is str


def with_suspects(chunk: pa.Table) -> pa.Table:
    """`chunk` with a `suspect` column: the lines the screen leaves to the SQL unread.

    Those are lines of invalid UTF-8 or with a token the decoder does not
    see. Arrow does the work, outside the GIL, so ingest runs this on its
    reader thread; it costs some 1.2 ms per MB of text (the exponent regex).
    """
    batches = [
        pa.RecordBatch.from_arrays(
            [*batch.columns, _suspects(batch.column("line"), batch.column("is_utf8"))],
            names=[*batch.schema.names, SUSPECT],
        )
        for batch in chunk.to_batches()
    ]
    schema = chunk.schema.append(pa.field(SUSPECT, pa.bool_()))
    return pa.Table.from_batches(batches, schema)


def _suspects(lines: pa.Array, is_utf8: pa.Array) -> pa.Array:
    if not len(lines):
        return pc.invert(is_utf8)
    hits = None
    whole = _whole_text(lines)
    for pattern in _UNSEEN_TOKENS:
        if pc.any(pc.match_substring_regex(whole, pattern)).as_py():
            found = pc.match_substring_regex(lines, pattern)
            hits = found if hits is None else pc.or_(hits, found)
    if hits is not None and pc.any(hits).as_py():
        # the cheap patterns also hit inside strings ("error E10001, ..."): the
        # few hits get the validation SQL's own exact test, in Python
        flags = hits.to_pylist()
        for index in (i for i, flagged in enumerate(flags) if flagged):
            flags[index] = _unseen_token(lines[index].as_py())
        return pc.or_(pc.invert(is_utf8), pa.array(flags, pa.bool_()))
    return pc.invert(is_utf8)


_STRING = re.compile(JSON_STRING)
_HUGE_EXPONENT = re.compile(HUGE_EXPONENT)
_NUL = re.compile(NUL_ESCAPE)


def _unseen_token(line: str) -> bool:
    """The SQL's exact test: a huge exponent outside strings, or the \\u0000 escape."""
    if "\\u0000" in line and _NUL.search(line):
        return True
    return bool(_HUGE_EXPONENT.search(_STRING.sub('""', line)))


def _whole_text(lines: pa.Array) -> pa.Array:
    """The batch's text as one string (no copy): a pattern that hits nowhere in it costs
    one regex pass, and only a hit is looked for line by line."""
    offsets = line_offsets(lines)
    return pa.LargeStringArray.from_buffers(
        1,
        pa.array([offsets[0], offsets[-1]], pa.int64()).buffers()[1],
        lines.buffers()[2],
    )


def _transpose(rows: list[tuple[Any, ...]], width: int) -> Iterator[list[Any]]:
    if not rows:
        return iter([[] for _ in range(width)])
    return (list(column) for column in zip(*rows, strict=True))


def _cast_timestamps(text: pa.Array) -> pa.Array:
    """Timestamps of RFC 3339 text, null where null or not a real date and time.

    Arrow casts a whole array or fails: the halves of a failing one are cast
    apart, so a few bad values cost a few casts each.
    """
    try:
        return text.cast(UTC_TIMESTAMP)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(text) == 1:
            return pa.nulls(1, UTC_TIMESTAMP)
        half = len(text) // 2
        return pa.concat_arrays(
            [_cast_timestamps(text.slice(0, half)), _cast_timestamps(text.slice(half))]
        )
