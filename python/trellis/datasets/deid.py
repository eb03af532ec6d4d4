"""De-identification: typed placeholders for e-mails, phones, cards, IBANs, IPs and secrets.

The detectors live in one file, ``seeds/deid_detectors.csv``, read here and by
the dbt test ``no_pii_leftover`` (through the seed), so Python and SQL never
disagree on what a leftover is. Patterns use the syntax Python's ``re`` and
RE2 (DuckDB's ``regexp_matches``) share: no look-arounds, no back-references.

Each text is scanned by one alternation of the detectors that can match in it:
a detector's ``gate`` (a cheap regular expression every match of it contains,
such as ``@`` for e-mails) is searched first, and the alternation of the
detectors whose gate matched is compiled once and cached. Python's ``re``
would otherwise try every detector at every character; the alternation is
also preceded by a look-ahead on the characters a match can start with (the
union of the detectors' ``lookahead`` classes), which ``re`` turns into a fast
skip. Those two columns are Python-only speed-ups: each must accept every
match of its pattern. A detector whose look-ahead is not one character class
(IPv6: hex digits then a colon) runs in a pass of its own, after the others,
and loses where it overlaps their matches: it has the lowest priority.
A detector with a validator (Luhn for cards, mod-97 for IBANs, digit counts for
phones) only claims a match that passes it, or its longest prefix that does.
A placeholder is ``<TYPE_n>``: the same value gets the same
number within one `Redactor` (one example), so a model still sees that the
address in turn 3 is the one from turn 1.

What it does not catch: see docs/datasets.md (names, postal addresses,
free-form secrets without a known prefix).
"""

from __future__ import annotations

import csv
import functools
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trellis.config import PROJECT_DIR

DETECTORS_FILE = PROJECT_DIR / "seeds" / "deid_detectors.csv"

#: Placeholders the redactor writes: never themselves a detector's match.
PLACEHOLDER = re.compile(r"<([A-Z0-9_]+)_([0-9]+)>")


@dataclass(frozen=True)
class Detector:
    detector_type: str
    pattern: str
    validator: str
    gate: str
    lookahead: str
    description: str


def load_detectors(path: Path = DETECTORS_FILE) -> tuple[Detector, ...]:
    """The detectors, in priority order (earlier wins where two match at one place)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: int(row["priority"]))
        return tuple(
            Detector(
                row["detector_type"],
                row["pattern"],
                row["validator"],
                row["gate"],
                row["lookahead"],
                row["description"],
            )
            for row in rows
        )


def luhn_is_valid(value: str) -> bool:
    digits = [int(c) for c in value if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def iban_is_valid(value: str) -> bool:
    compact = value.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def phone_is_valid(value: str) -> bool:
    digits = sum(c.isdigit() for c in value)
    return 8 <= digits <= 15


def hex_digits_are_enough(value: str) -> bool:
    return sum(c in "0123456789abcdefABCDEF" for c in value) >= 4


def ipv6_is_valid(value: str) -> bool:
    if not hex_digits_are_enough(value):
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


VALIDATORS: dict[str, Callable[[str], bool]] = {
    "luhn": luhn_is_valid,
    "mod97": iban_is_valid,
    "phone_digits": phone_is_valid,
    "hex_digits": hex_digits_are_enough,
}

#: Checks beyond the seed's validator that the SQL side does without: the
#: IPv6 pattern is strict already, ``ipaddress`` only refuses edge cases.
EXTRA_CHECKS: dict[str, Callable[[str], bool]] = {"IPV6": ipv6_is_valid}


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    detector_type: str
    value: str


class _Scanner:
    """The detectors' gates, checks and the alternations of gated subsets (see module docstring)."""

    def __init__(self, detectors: tuple[Detector, ...]) -> None:
        self.detectors = detectors
        self.checks: list[Callable[[str], bool] | None] = []
        for detector in detectors:
            if detector.validator not in VALIDATORS and detector.validator != "none":
                raise ValueError(f"unknown validator {detector.validator!r}")
            check = EXTRA_CHECKS.get(detector.detector_type) or VALIDATORS.get(detector.validator)
            self.checks.append(check)
        self.joinable = frozenset(i for i, d in enumerate(detectors) if _is_class(d.lookahead))
        self.gates = [
            (re.compile(gate), [i for i, d in enumerate(detectors) if d.gate == gate])
            for gate in dict.fromkeys(d.gate for d in detectors)
        ]

    def spans(self, text: str, offset: int = 0) -> list[Span]:
        active = sorted(
            index for gate, indices in self.gates if gate.search(text) for index in indices
        )
        joined = tuple(i for i in active if i in self.joinable)
        spans = list(self._matches(self._alternation(joined), text, offset)) if joined else []
        for index in active:
            if index in joined:
                continue
            taken = spans
            own = self._matches(self._alternation((index,)), text, offset)
            spans = sorted(
                [*taken, *(s for s in own if not any(_overlap(s, t) for t in taken))],
                key=lambda span: span.start,
            )
        return spans

    def _matches(self, pattern: re.Pattern[str], text: str, offset: int) -> Iterator[Span]:
        for match in pattern.finditer(text):
            index = int(match.lastgroup[1:])  # type: ignore[index]
            value = match.group()
            start = offset + match.start()
            check = self.checks[index]
            if check is None or check(value):
                yield Span(start, start + len(value), self._type(index), value)
                continue
            # A greedy match may have swallowed a neighbour (an IBAN followed by
            # another group of digits): the longest valid prefix, cut at a
            # separator, is the value, and the rest is scanned again.
            for cut in _separator_cuts(value):
                if check(value[:cut]):
                    yield Span(start, start + cut, self._type(index), value[:cut])
                    yield from self.spans(value[cut:], start + cut)
                    break

    @functools.cache  # noqa: B019 (one scanner per process, see _scanner)
    def _alternation(self, active: tuple[int, ...]) -> re.Pattern[str]:
        detectors = [self.detectors[i] for i in active]
        if len(detectors) == 1:
            starts = detectors[0].lookahead
        else:
            starts = "[" + "".join(d.lookahead[1:-1] for d in detectors) + "]"
        branches = "|".join(
            f"(?P<d{i}>(?={self.detectors[i].lookahead}){self.detectors[i].pattern})"
            for i in active
        )
        return re.compile(f"(?={starts})(?:{branches})", re.ASCII)

    def _type(self, index: int) -> str:
        return self.detectors[index].detector_type


def _is_class(lookahead: str) -> bool:
    return re.fullmatch(r"\[[^\[\]]+\]", lookahead) is not None


def _overlap(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def _separator_cuts(value: str) -> list[int]:
    """Positions of the separators in ``value``, right to left (longest prefix first)."""
    return [i for i in range(len(value) - 1, 0, -1) if value[i] in " -"]


@functools.cache
def _scanner() -> _Scanner:
    return _Scanner(load_detectors())


def find(text: str) -> list[Span]:
    """Every detector match in ``text`` that passes its validator, left to right."""
    return list(_scanner().spans(text))


@dataclass
class Redactor:
    """Replaces detected values by placeholders numbered per type, stable within one example.

    Make one per example (one conversation, one preference pair), so that numbers
    say nothing across examples.
    """

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def text(self, text: str) -> str:
        spans = find(text)
        if not spans:
            return text
        pieces: list[str] = []
        last = 0
        for span in spans:
            pieces.append(text[last : span.start])
            pieces.append(self._placeholder(span))
            last = span.end
        pieces.append(text[last:])
        return "".join(pieces)

    def value(self, value: Any) -> Any:
        """Every string inside a JSON-like value (messages, tool calls) redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        return value

    def replaced(self) -> dict[str, int]:
        """How many distinct values of each type this redactor replaced."""
        return {kind: len(values) for kind, values in self.counts.items()}

    def _placeholder(self, span: Span) -> str:
        values = self.counts.setdefault(span.detector_type, {})
        key = _normalized(span)
        number = values.setdefault(key, len(values) + 1)
        return f"<{span.detector_type}_{number}>"


def _normalized(span: Span) -> str:
    if span.detector_type in {"PAYMENT_CARD", "PHONE", "IBAN"}:
        return "".join(c for c in span.value if c.isalnum()).upper()
    if span.detector_type == "EMAIL":
        return span.value.lower()
    return span.value


def redact(text: str) -> str:
    """``text`` with every detected value replaced (a one-text example)."""
    return Redactor().text(text)
