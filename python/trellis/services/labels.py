"""The trajectory categories, shared by the judge's labelling answers and human reviews.

The dbt models (models/evaluation) name the same seven in their accepted
values; docs/evaluation-labels.md says what each one means.
"""

from __future__ import annotations

CATEGORIES: tuple[str, ...] = (
    "tool_helped",
    "tool_misuse",
    "hallucination",
    "good_recovery",
    "overlong",
    "underspecified",
    "stable_high_quality",
)
