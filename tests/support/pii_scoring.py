"""Precision and recall of the detectors on the labelled corpus, per type."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from tests.support.pii_corpus import Example
from trellis.datasets import deid


def score(corpus: Iterable[Example]) -> dict[str, dict[str, float]]:
    """Per type: true positives, false positives, false negatives, precision, recall.

    A label is found when a span of its type covers exactly its value; a span
    that matches no label is a false positive of its type.
    """
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for example in corpus:
        found = [(span.detector_type, span.value) for span in deid.find(example.text)]
        expected = list(example.labels)
        for item in found:
            if item in expected:
                expected.remove(item)
                tp[item[0]] += 1
            else:
                fp[item[0]] += 1
        for kind, _ in expected:
            fn[kind] += 1
    result: dict[str, dict[str, float]] = {}
    for kind in sorted(set(tp) | set(fp) | set(fn)):
        found_n = tp[kind] + fp[kind]
        actual_n = tp[kind] + fn[kind]
        result[kind] = {
            "tp": tp[kind],
            "fp": fp[kind],
            "fn": fn[kind],
            "precision": tp[kind] / found_n if found_n else 1.0,
            "recall": tp[kind] / actual_n if actual_n else 1.0,
        }
    return result
