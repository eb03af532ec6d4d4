"""Named score parsers: judge text in, a score on 0-10 out, or a ParseError saying why.

A parse failure is data, not a crash: the runner stores the raw text and the
error with the feedback record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from trellis.services.labels import CATEGORIES

_NUMBER = r"(-?\d+(?:\.\d+)?)"


class ParseError(ValueError):
    """The judge's text holds no score this parser can read."""


def _in_range(value: float, low: float = 0.0, high: float = 10.0) -> float:
    if not low <= value <= high:
        raise ParseError(f"score {value:g} is outside {low:g}-{high:g}")
    return value


def last_line_score(text: str) -> float:
    """`SCORE: 7` (or `Score = 7/10`) on the last non-empty line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        raise ParseError("empty judge reply")
    match = re.search(rf"score\s*[:=]\s*\**\s*{_NUMBER}\s*(?:/\s*10)?", lines[-1], re.IGNORECASE)
    if not match:
        raise ParseError("last line has no `SCORE: <number>`")
    return _in_range(float(match.group(1)))


def bold_score(text: str) -> float:
    """The last bold number: `**7**`, `**7/10**` or `**Score: 7**`."""
    matches = re.findall(
        rf"\*\*\s*(?:score\s*[:=]?\s*)?{_NUMBER}\s*(?:/\s*10)?\s*\*\*", text, re.IGNORECASE
    )
    if not matches:
        raise ParseError("no bold score (**<number>**)")
    return _in_range(float(matches[-1]))


def json_score(text: str) -> float:
    """A JSON object with a numeric `score`, possibly inside a ```json fence or prose."""
    decoder = json.JSONDecoder()
    found: float | None = None
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if (
            isinstance(value, dict)
            and isinstance(value.get("score"), int | float)
            and not isinstance(value.get("score"), bool)
        ):
            found = float(value["score"])
    if found is None:
        raise ParseError("no JSON object with a numeric `score`")
    return _in_range(found)


def scale_1_10(text: str) -> float:
    """A 1-10 rating (`SCORE: n` last line, else the last bold number) mapped to 0-10."""
    try:
        raw = last_line_score(text)
    except ParseError:
        try:
            raw = bold_score(text)
        except ParseError:
            raise ParseError("no 1-10 rating (`SCORE: n` or **n**)") from None
    if not 1 <= raw <= 10:
        raise ParseError(f"rating {raw:g} is outside 1-10")
    return round((raw - 1) * 10 / 9, 4)


PARSERS: dict[str, Callable[[str], float]] = {
    "last_line_score": last_line_score,
    "bold": bold_score,
    "json": json_score,
    "scale_1_10": scale_1_10,
}


def parse_score(parser: str, text: str) -> tuple[float | None, str | None]:
    """(score, None) or (None, why not)."""
    try:
        return PARSERS[parser](text), None
    except ParseError as exc:
        return None, str(exc)


def _json_objects(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    found = []
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        found.append(value)
    return found


def json_categories(text: str) -> dict[str, Any]:
    """The last JSON object with a `categories` list, possibly in a ```json fence or prose:

        {"categories": [{"category": "tool_misuse", "confidence": 0.8,
                         "evidence": "called grep twice"}], "score": 6}

    Every category must be one of CATEGORIES, confidence 0-1 (default 1),
    evidence a string (default ""); `score` (0-10) is optional. An empty list
    says no category applies.
    """
    candidates = [v for v in _json_objects(text) if isinstance(v, dict) and "categories" in v]
    if not candidates:
        raise ParseError("no JSON object with a `categories` list")
    answer = candidates[-1]
    items = answer["categories"]
    if not isinstance(items, list):
        raise ParseError("`categories` is not a list")
    labels = []
    for i, item in enumerate(items):
        if isinstance(item, str):
            item = {"category": item}
        if not isinstance(item, dict):
            raise ParseError(f"categories[{i}] is neither a name nor an object")
        category = item.get("category")
        if category not in CATEGORIES:
            raise ParseError(f"categories[{i}]: unknown category {category!r}")
        confidence = item.get("confidence", 1.0)
        if isinstance(confidence, bool) or not isinstance(confidence, int | float):
            raise ParseError(f"categories[{i}]: confidence is not a number")
        if not 0 <= confidence <= 1:
            raise ParseError(f"categories[{i}]: confidence {confidence:g} is outside 0-1")
        evidence = item.get("evidence", "")
        labels.append(
            {"category": category, "confidence": float(confidence), "evidence": str(evidence)}
        )
    score = answer.get("score")
    if score is not None:
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise ParseError("`score` is not a number")
        score = _in_range(float(score))
    return {"categories": labels, "score": score}


LABEL_PARSERS: dict[str, Callable[[str], dict[str, Any]]] = {"json_categories": json_categories}


def parse_labels(parser: str, text: str) -> tuple[dict[str, Any] | None, str | None]:
    """(labels, None) or (None, why not)."""
    try:
        return LABEL_PARSERS[parser](text), None
    except ParseError as exc:
        return None, str(exc)
