"""The DuckDB store's key filter: no false negatives, few false positives."""

from __future__ import annotations

import random

from trellis.storage.key_filter import KeyFilter


def test_every_added_key_may_be_held_and_few_others_are() -> None:
    rng = random.Random(5)
    added = [f"req_{rng.getrandbits(64):016x}" for _ in range(200_000)]
    others = [f"req_{rng.getrandbits(64):016x}" for _ in range(50_000)]
    found = KeyFilter()
    assert not found.may_hold(found.positions(added[:1000])).any()

    for start in range(0, len(added), 3_000):
        found.add(found.positions(added[start : start + 3_000]))

    assert found.may_hold(found.positions(added)).all()
    assert found.may_hold(found.positions(others)).mean() < 0.001
    assert found.may_hold(found.positions([])).shape == (0,)


def test_keys_are_told_apart_by_their_whole_text() -> None:
    found = KeyFilter()
    found.add(found.positions(["a", "é", "req-1"]))
    assert found.may_hold(found.positions(["a", "é", "req-1"])).all()
    assert not found.may_hold(found.positions(["A", "e", "req-2", "req-1 "])).any()
