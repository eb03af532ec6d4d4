"""Content fingerprints of the C screen (trellis/_screen.c) agree with ingest.same_content.

Ingest decides a stored id's twin by the two record hashes alone when both are
content fingerprints (ingest.same_record): equal means a duplicate, different
a conflict, and the stored record is never read. So two records must get the
same fingerprint exactly when same_content calls them the same, whatever the
spelling: key order, whitespace, escapes, number spelling. same_content is the
oracle here, on random values spelled at random and on their near misses.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.test_ingest_helpers import request, write_jsonl
from trellis.services import line_chunks
from trellis.services.ingest import same_content
from trellis.services.screening import Screen, is_content_hash, screened_chunk


def fingerprints(tmp_path: Path, lines: list[str]) -> list[str | None]:
    """The record_hash of each line when it is a content fingerprint, else None (the line
    is left to the SQL, or has only its text's hash)."""
    path = write_jsonl(tmp_path / "in.jsonl", lines)
    screen = Screen("requests", native=True)
    found: dict[int, str] = {}
    for chunk in line_chunks.iter_file_chunks(path):
        cleared = screened_chunk(screen, str(path), chunk).cleared
        found.update(
            zip(
                cleared.column("source_line").to_pylist(),
                cleared.column("record_hash").to_pylist(),
                strict=True,
            )
        )
    return [
        found[line] if is_content_hash(found.get(line, "")) else None
        for line in range(1, len(lines) + 1)
    ]


def with_metadata(metadata_text: str, request_id: str = "r-1") -> str:
    """A valid request line whose `metadata` is the given JSON text, as spelled."""
    line = json.dumps(request(request_id, metadata="METADATA"), ensure_ascii=False)
    return line.replace('"METADATA"', metadata_text)


# -- random values, spelled at random ------------------------------------------------------

_CHARS = 'aZ09 _-"\\/\n\t\x01é€😀\u2028\ud7ff\ue000'


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.choice(["str", "int", "dec", "lit"] + (["list", "dict"] * 2 if depth < 4 else []))
    if kind == "str":
        return "".join(rng.choice(_CHARS) for _ in range(rng.choice([0, 1, 3, 8, 15, 16, 17, 40])))
    if kind == "int":
        return rng.choice([0, 1, -1, 7, 10, 100, 2**63, -(2**70), rng.randrange(-(10**6), 10**6)])
    if kind == "dec":
        return Decimal(rng.randrange(-(10**5), 10**5)).scaleb(rng.randrange(-8, 8))
    if kind == "lit":
        return rng.choice([True, False, None])
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    keys = ["a", "b", "key", "k" * 20, "é", "a\nb", ""]
    return {rng.choice(keys): random_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))}


def spelled(rng: random.Random, value: Any) -> str:
    """`value` as JSON, spelled one of many ways."""

    def space() -> str:
        return rng.choice(["", "", " ", "  ", "\t"])

    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        members = [
            f"{space()}{spelled(rng, k)}{space()}:{space()}{spelled(rng, v)}" for k, v in items
        ]
        return "{" + ",".join(members) + space() + "}"
    if isinstance(value, list):
        return "[" + ",".join(space() + spelled(rng, item) for item in value) + space() + "]"
    if isinstance(value, str):
        return '"' + "".join(_spelled_char(rng, char) for char in value) + '"'
    if value is True or value is False or value is None:
        return json.dumps(value)
    return _spelled_number(rng, Decimal(value))


def _spelled_char(rng: random.Random, char: str) -> str:
    short = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "/": "\\/"}
    code = ord(char)
    if code > 0xFFFF:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        escaped = f"\\u{high:04x}\\u{low:04X}"
    else:
        escaped = rng.choice([f"\\u{code:04x}", f"\\u{code:04X}"])
    if char in short:
        return rng.choice([short[char], escaped]) if char != "/" else rng.choice(["/", "\\/"])
    if code < 0x20:
        return escaped
    return rng.choice([char, char, escaped])


def _spelled_number(rng: random.Random, number: Decimal) -> str:
    """Digits with trailing zeros added, the point anywhere, the exponent to match."""
    sign, digit_tuple, exponent = number.as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple)).lstrip("0") or "0"
    if digits == "0":
        return rng.choice(["0", "-0", "0.0", "0e5", "-0.000E-3", "0.0e+0"])
    zeros = rng.randrange(0, 3)
    digits += "0" * zeros
    exponent -= zeros
    point = rng.randrange(0, len(digits) + 1)
    whole, fraction = digits[:point] or "0", digits[point:]
    if whole == "0" and fraction and rng.random() < 0.5:
        fraction = "00" + fraction  # 0.00123e5
    exponent += len(fraction)
    text = "-" * sign + whole + ("." + fraction if fraction else "")
    if exponent or rng.random() < 0.3:
        text += rng.choice(["e", "E"]) + rng.choice(["", "+"] if exponent >= 0 else [""])
        text += str(exponent)
    return text


def changed(rng: random.Random, value: Any) -> Any:
    """`value` with one thing changed (maybe to something equal: the oracle decides)."""
    if isinstance(value, dict) and value and rng.random() < 0.7:
        key = rng.choice(list(value))
        other = dict(value)
        roll = rng.random()
        if roll < 0.2:
            del other[key]
        elif roll < 0.3:
            other[key + "x"] = other.pop(key)
        else:
            other[key] = changed(rng, value[key])
        return other
    if isinstance(value, list) and value and rng.random() < 0.7:
        index = rng.randrange(len(value))
        other = list(value)
        if rng.random() < 0.2:
            other.reverse()
        else:
            other[index] = changed(rng, value[index])
        return other
    return rng.choice(
        [
            random_value(rng, 3),
            f"{value}" if not isinstance(value, str) else value + "x",
            1 if value is True else True,
            0 if value is None else None,
            [value],
            {"a": value},
        ]
    )


def test_spellings_of_one_value_share_a_fingerprint_and_changes_do_not(tmp_path: Path) -> None:
    rng = random.Random(20261205)
    lines: list[str] = []
    for _ in range(300):
        value = random_value(rng)
        lines += [spelled(rng, {"v": value}), spelled(rng, {"v": value})]
        lines.append(spelled(rng, {"v": changed(rng, value)}))
    found = fingerprints(tmp_path, [with_metadata(text) for text in lines])

    assert all(found), "every line is cleared by the C screen and fingerprinted"
    same_pairs = differing_pairs = 0
    for start in range(0, len(lines), 3):
        first, respelled, other = lines[start : start + 3]
        assert same_content(first, respelled)
        assert found[start] == found[start + 1], (first, respelled)
        expected = same_content(first, other)
        assert (found[start] == found[start + 2]) is expected, (first, other)
        same_pairs += expected
        differing_pairs += not expected
    assert differing_pairs > 250  # most changes change the value


#: (text, other, same content): pairs of JSON values same_content must tell apart or not.
SAME_CONTENT = [
    ('{"a": 1, "b": [1, 2]}', '{ "b": [1,2], "a": 1 }', True),
    ('{"n": 1}', '{"n": 1.0}', True),
    ('{"n": 1}', '{"n": 1e0}', True),
    ('{"n": 10}', '{"n": 1E+1}', True),
    ('{"n": 0.1}', '{"n": 1e-1}', True),
    ('{"n": -0}', '{"n": 0.0e7}', True),
    ('{"n": 12345678901234567890123}', '{"n": 1.2345678901234567890123e22}', True),
    ('{"n": 0.30000000000000001}', '{"n": 0.3}', False),  # equal as floats only
    ('{"n": -1}', '{"n": 1}', False),
    ('{"n": 1e5}', '{"n": 1e-5}', False),
    ('{"n": true}', '{"n": 1}', False),
    ('{"n": false}', '{"n": 0}', False),
    ('{"n": "1"}', '{"n": 1}', False),
    ('{"n": null}', "{}", False),
    ('{"n": null}', '{"n": ""}', False),
    ('{"n": []}', '{"n": {}}', False),
    ('{"n": [[]]}', '{"n": [[], []]}', False),
    ('{"n": [1, 2]}', '{"n": [2, 1]}', False),
    ('{"a": "b"}', '{"b": "a"}', False),  # key and value do not commute
    ('{"a": {"b": 1}}', '{"a": {}, "b": 1}', False),
    ('{"s": "\\u00e9"}', '{"s": "\u00e9"}', True),
    ('{"s": "\\ud83d\\ude00"}', '{"s": "\U0001f600"}', True),
    ('{"s": "\\/\\n"}', '{"s": "/\\u000A"}', True),
    ('{"s": "abcdefghijklmnopq"}', '{"s": "abcdefghijklmnopr"}', False),
    # the C screen leaves these to the SQL: no fingerprint, compared parsed
    ('{"s": "abcdefgh"}', '{"s": "abcdefgh\\u0000"}', False),
    ('{"s": "\\ud800"}', '{"s": "\\ud800"}', True),  # a lone surrogate: json reads it
    ('{"s": "\\ud800"}', '{"s": "\\ud801"}', False),
    ("[" * 3000 + "]" * 3000, "[" * 3000 + "]" * 3000, True),  # past the nesting limit
    ("[" * 3000 + "]" * 3000, "[" * 2999 + "[ ]" + "]" * 2999, False),
]


@pytest.mark.parametrize(("text", "other", "same"), SAME_CONTENT)
def test_same_content_compares_json_values_exactly(text: str, other: str, same: bool) -> None:
    assert same_content(text, other) is same
    assert same_content(other, text) is same


@pytest.mark.parametrize(("text", "other", "same"), SAME_CONTENT)
def test_fingerprints_tell_what_same_content_tells(
    tmp_path: Path, text: str, other: str, same: bool
) -> None:
    found = fingerprints(
        tmp_path, [with_metadata(f'{{"v": {text}}}'), with_metadata(f'{{"v": {other}}}')]
    )
    if any(mark in text + other for mark in ("\\u0000", "\\ud800", "[" * 300)):
        assert None in found  # left to the SQL
        return
    assert None not in found
    assert (found[0] == found[1]) is same


def test_no_fingerprint_where_python_would_read_the_text_otherwise(tmp_path: Path) -> None:
    """A key named twice (Python keeps the last value) or too many keys open at once:
    the line keeps its text's hash, and ingest compares it parsed."""
    many = "{" + ",".join(f'"k{i}": {i}' for i in range(1100)) + "}"
    lines = [
        with_metadata('{"a": 1, "a": 2}'),
        with_metadata('{"a": 2}'),
        with_metadata('{"a": {"x": 1}, "b": {"x": 1}}'),  # the same key in two objects is fine
        with_metadata(many),
        with_metadata('{"a": 1, "b": 2}'),
    ]
    found = fingerprints(tmp_path, lines)
    assert found[0] is None and found[3] is None
    assert None not in (found[1], found[2], found[4])
    assert same_content(lines[0], lines[1])  # which is why the first has no fingerprint


def test_a_fingerprint_is_c_and_32_hex_digits_and_the_same_on_every_run(tmp_path: Path) -> None:
    """Fingerprints are stored: a later ingest must compute the same ones (the C code reads
    bytes little-endian on every machine). Pinned here against a change of the hash."""
    (found,) = fingerprints(tmp_path, [with_metadata('{"x": [1, "two", 3.0, null, true]}')])
    assert found is not None and is_content_hash(found)
    assert int(found[1:], 16) >= 0 and found == found.lower()
    assert found == "c" + PINNED


#: The fingerprint of the record in the test above; it changes only with the hash.
PINNED = "624d9ce5b94760cd08e713f3f293e348"
