"""Reviews read back from a labelling tool, mapped to feedback records (contract section 2).

Accepted files:

- Label Studio's JSON export: a list of tasks, each with `data` (the exported
  task: task_id, trajectory_id, request_id, answer_*_request_id) and
  `annotations`, each annotation a `result` list of regions by `type`:
  `choices` (from_name `categories`: the categories; from_name `pairwise`:
  "A" or "B"), `rating` or `number` (the 0-10 quality), `pairwise`
  (`selected` "left" = answer A, "right" = answer B), `textarea` (a comment).
  `completed_by` (an id or an object with `email`/`id`) is the reviewer.
  Cancelled (skipped) annotations are counted, not imported.
- JSONL or CSV: the exported rows with the answer columns filled in
  (reviewer_id, categories as a list or "a; b", quality, pairwise_choice
  "a" or "b", comment, optional reviewed_at).

Each annotation or row becomes one ReviewItem: a feedback record, or no record
and the quarantine reason and detail that say why it cannot be one (codes of
trellis.services.contract: missing_field, wrong_type, out_of_range,
invalid_enum, invalid_json, not_an_object). The feedback id is a hash of the
task, the reviewer and the annotation (or the row's content), so importing a
file again adds nothing.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trellis.errors import TrellisError
from trellis.services.contract import (
    INVALID_ENUM,
    INVALID_JSON,
    MISSING_FIELD,
    NOT_AN_OBJECT,
    OUT_OF_RANGE,
    WRONG_TYPE,
)
from trellis.services.labels import CATEGORIES
from trellis.services.replay.ids import canonical_json, stable_id

REVIEW_TOOL_KEYS = ("task_id", "trajectory_id", "request_id", "tenant_id")


@dataclass(frozen=True)
class ReviewItem:
    """One review as read: `record` to ingest, or `reason`/`detail` to quarantine it."""

    line: int
    raw_text: str
    record: dict[str, Any] | None = None
    reason: str | None = None
    detail: str | None = None
    record_id: str | None = None


class _Unmappable(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass
class _Answer:
    """What a reviewer said about one task, whatever the tool."""

    reviewer_id: str | None
    categories: list[str] | None
    quality: Any
    pairwise: str | None  # "a" | "b" | None
    comment: str | None
    reviewed_at: str | None
    annotation_id: str


def read_reviews(path: Path) -> tuple[list[ReviewItem], int]:
    """(items, cancelled annotations) of a Label Studio export, JSONL or CSV file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TrellisError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise TrellisError(f"{path} is not UTF-8 text") from None
    fallback_time = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
    if path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        items = [
            _from_row(i + 2, row, json.dumps(row), fallback_time) for i, row in enumerate(rows)
        ]
        return items, 0
    stripped = text.lstrip()
    if stripped.startswith("["):
        return _from_label_studio(path, stripped, fallback_time)
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            items.append(ReviewItem(number, line, reason=INVALID_JSON, detail="not valid JSON"))
            continue
        items.append(_from_row(number, row, line, fallback_time))
    return items, 0


def _from_label_studio(path: Path, text: str, fallback_time: str) -> tuple[list[ReviewItem], int]:
    try:
        tasks = json.loads(text)
    except ValueError:
        raise TrellisError(
            f"{path} is not valid JSON (a Label Studio export is one JSON list)"
        ) from None
    items: list[ReviewItem] = []
    cancelled = 0
    position = 0
    for task in tasks:
        position += 1
        if not isinstance(task, dict):
            items.append(
                ReviewItem(
                    position, json.dumps(task), reason=NOT_AN_OBJECT, detail="task is not an object"
                )
            )
            continue
        data: dict[str, Any] = task["data"] if isinstance(task.get("data"), dict) else {}
        annotations = task.get("annotations") or task.get("completions") or []
        if not annotations:
            items.append(
                ReviewItem(
                    position,
                    canonical_json(task),
                    reason=MISSING_FIELD,
                    detail="annotations: the task has none",
                )
            )
            continue
        for annotation in annotations:
            raw = canonical_json(
                {"data": data, "task_id": task.get("id"), "annotation": annotation}
            )
            if isinstance(annotation, dict) and annotation.get("was_cancelled"):
                cancelled += 1
                continue
            try:
                answer = _label_studio_answer(task, annotation, fallback_time)
                record = _record(data, answer)
            except _Unmappable as problem:
                items.append(
                    ReviewItem(position, raw, reason=problem.reason, detail=problem.detail)
                )
                continue
            items.append(ReviewItem(position, raw, record=record, record_id=record["feedback_id"]))
    return items, cancelled


def _label_studio_answer(task: Mapping[str, Any], annotation: Any, fallback_time: str) -> _Answer:
    if not isinstance(annotation, dict):
        raise _Unmappable(NOT_AN_OBJECT, "annotation is not an object")
    results = annotation.get("result")
    if not isinstance(results, list):
        raise _Unmappable(MISSING_FIELD, "annotation.result: not a list")
    categories: list[str] | None = None
    quality: Any = None
    pairwise: str | None = None
    comments: list[str] = []
    for region in results:
        if not isinstance(region, dict) or not isinstance(region.get("value"), dict):
            raise _Unmappable(WRONG_TYPE, "annotation.result[]: a region without a value object")
        kind, value, name = region.get("type"), region["value"], region.get("from_name")
        if kind == "choices" and name == "pairwise":
            pairwise = _pairwise(_first(value.get("choices")))
        elif kind == "choices":
            categories = [str(c) for c in value.get("choices") or []]
        elif kind == "taxonomy":
            categories = [str(path[-1]) for path in value.get("taxonomy") or [] if path]
        elif kind == "rating":
            quality = value.get("rating")
        elif kind == "number":
            quality = value.get("number")
        elif kind == "pairwise":
            pairwise = _pairwise(value.get("selected"))
        elif kind == "textarea":
            comments += [str(t) for t in value.get("text") or []]
    return _Answer(
        reviewer_id=_reviewer(annotation.get("completed_by")),
        categories=categories,
        quality=quality,
        pairwise=pairwise,
        comment="\n".join(comments) or None,
        reviewed_at=annotation.get("updated_at") or annotation.get("created_at") or fallback_time,
        annotation_id=str(annotation.get("id", canonical_json(annotation))) + f"@{task.get('id')}",
    )


def _first(values: Any) -> Any:
    return values[0] if isinstance(values, list) and values else values


def _reviewer(completed_by: Any) -> str | None:
    if isinstance(completed_by, dict):
        value = completed_by.get("email") or completed_by.get("id")
        return str(value) if value is not None else None
    return str(completed_by) if completed_by is not None else None


def _pairwise(choice: Any) -> str | None:
    if choice is None or choice == "":
        return None
    picked = {"a": "a", "left": "a", "answer a": "a", "b": "b", "right": "b", "answer b": "b"}.get(
        str(choice).strip().lower()
    )
    if picked is None:
        raise _Unmappable(INVALID_ENUM, f"pairwise_choice: {choice!r} is not A (left) or B (right)")
    return picked


def _from_row(line: int, row: Any, raw: str, fallback_time: str) -> ReviewItem:
    if not isinstance(row, dict):
        return ReviewItem(line, raw, reason=NOT_AN_OBJECT, detail="row is not an object")
    try:
        categories = row.get("categories")
        if isinstance(categories, str):
            categories = [c.strip() for c in categories.replace(",", ";").split(";") if c.strip()]
        elif categories is not None and not isinstance(categories, list):
            raise _Unmappable(WRONG_TYPE, "categories: neither a list nor text")
        answer = _Answer(
            reviewer_id=_blank_none(row.get("reviewer_id")),
            categories=None if categories is None else [str(c) for c in categories],
            quality=_blank_none(row.get("quality")),
            pairwise=_pairwise(_blank_none(row.get("pairwise_choice"))),
            comment=_blank_none(row.get("comment")),
            reviewed_at=_blank_none(row.get("reviewed_at")) or fallback_time,
            annotation_id=canonical_json(row),
        )
        record = _record(row, answer)
    except _Unmappable as problem:
        return ReviewItem(line, raw, reason=problem.reason, detail=problem.detail)
    return ReviewItem(line, raw, record=record, record_id=record["feedback_id"])


def _blank_none(value: Any) -> Any:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _quality(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise _Unmappable(WRONG_TYPE, "quality: not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _Unmappable(WRONG_TYPE, f"quality: {value!r} is not a number") from None
    if not math.isfinite(number) or not 0 <= number <= 10:
        raise _Unmappable(OUT_OF_RANGE, f"quality: {value!r} is outside 0-10")
    return number


def _record(task: Mapping[str, Any], answer: _Answer) -> dict[str, Any]:
    """The feedback record of one answer to one exported task."""
    request_id = _blank_none(task.get("request_id"))
    trajectory_id = _blank_none(task.get("trajectory_id"))
    if request_id is None:
        raise _Unmappable(MISSING_FIELD, "request_id: the review names no task (request_id)")
    quality = _quality(answer.quality)
    unknown = [c for c in answer.categories or [] if c not in CATEGORIES]
    if unknown:
        raise _Unmappable(INVALID_ENUM, f"categories: unknown {', '.join(map(repr, unknown))}")
    if answer.categories is None and quality is None and answer.pairwise is None:
        raise _Unmappable(MISSING_FIELD, "the review gives no category, quality or pairwise choice")
    metadata: dict[str, Any] = {
        "review_task_id": str(task.get("task_id") or trajectory_id or request_id)
    }
    if trajectory_id is not None:
        metadata["trajectory_id"] = str(trajectory_id)
    if answer.categories is not None:
        metadata["categories"] = sorted(set(answer.categories))
    if answer.pairwise is not None:
        a, b = (
            _blank_none(task.get("answer_a_request_id")),
            _blank_none(task.get("answer_b_request_id")),
        )
        if a is None or b is None:
            raise _Unmappable(
                MISSING_FIELD,
                "pairwise_choice: the task has no answer_a/answer_b to choose between",
            )
        chosen, rejected = (a, b) if answer.pairwise == "a" else (b, a)
        metadata["pairwise_choice"] = {
            "chosen_request_id": str(chosen),
            "rejected_request_id": str(rejected),
        }
    record: dict[str, Any] = {
        "feedback_id": stable_id(
            "review", str(request_id), answer.reviewer_id, answer.annotation_id
        ),
        "request_id": str(request_id),
        "created_at": answer.reviewed_at,
        "outcome": "success",
        "source": "human",
        "metadata": metadata,
    }
    if task.get("tenant_id"):
        record["tenant_id"] = str(task["tenant_id"])
    if answer.reviewer_id is not None:
        record["reviewer_id"] = str(answer.reviewer_id)
    if quality is not None:
        record["completion_quality"] = quality
    if answer.comment is not None:
        record["comment"] = str(answer.comment)
    return record


def iter_records(items: list[ReviewItem]) -> Iterator[dict[str, Any]]:
    for item in items:
        if item.record is not None:
            yield item.record
