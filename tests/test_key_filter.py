"""The DuckDB store's key filter: no false negatives, few false positives."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from trellis import native
from trellis.storage.key_filter import KeyFilter


@pytest.fixture(autouse=True, params=["c", "python"])
def hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test once per key hash: trellis._screen.hash_strings, and xxh3 in Python."""
    monkeypatch.setattr(native, "HASH_IN_C", request.param == "c")
    return str(request.param)


def test_the_c_hash_is_built_and_checks_its_offsets() -> None:
    extension = native.extension
    assert extension is not None, "trellis._screen is not built: is a C compiler (gcc) installed?"
    offsets = np.array([0, 2, 9], np.int32).tobytes()
    assert len(extension.hash_strings(b"abcdefghi", offsets, 0, 2, False)) == 32
    with pytest.raises(ValueError, match="out of the data buffer"):
        extension.hash_strings(b"abc", offsets, 0, 2, False)
    with pytest.raises(ValueError, match="shorter"):
        extension.hash_strings(b"abcdefghi", offsets, 1, 2, False)


def positions(keys: list[str]) -> list[Any]:
    return KeyFilter.positions(pa.array(keys, pa.string()))


def test_keys_hash_the_same_in_any_arrow_layout() -> None:
    keys = ["a", "é", "req-1", ""]
    expected = positions(keys)
    for layout in (
        pa.array(keys, pa.large_string()),
        pa.chunked_array([keys[:1], keys[1:]], pa.string()),
        pa.array(["x", *keys], pa.string()).slice(1),
    ):
        found = KeyFilter.positions(layout)
        assert all((a == b).all() for a, b in zip(found, expected, strict=True))


def test_every_added_key_may_be_held_and_few_others_are() -> None:
    rng = random.Random(5)
    added = [f"req_{rng.getrandbits(64):016x}" for _ in range(200_000)]
    others = [f"req_{rng.getrandbits(64):016x}" for _ in range(50_000)]
    found = KeyFilter()
    assert not found.may_hold(positions(added[:1000])).any()

    for start in range(0, len(added), 3_000):
        found.add(positions(added[start : start + 3_000]))

    assert found.may_hold(positions(added)).all()
    assert found.may_hold(positions(others)).mean() < 0.001
    assert found.may_hold(positions([])).shape == (0,)


def test_keys_are_told_apart_by_their_whole_text() -> None:
    found = KeyFilter()
    found.add(positions(["a", "é", "req-1"]))
    assert found.may_hold(positions(["a", "é", "req-1"])).all()
    assert not found.may_hold(positions(["A", "e", "req-2", "req-1 "])).any()


def test_bits_of_keys_that_share_a_byte_are_all_set() -> None:
    found = KeyFilter()
    # three keys of two probes each: bits 0, 1, 2, 3 and 7 of byte 0, bit 0 of byte 1
    shared = [np.array(values, np.uint64) for values in ([0, 2, 7], [1, 3, 8])]
    found.add(shared)
    assert found._bits[0] == 0b1000_1111 and found._bits[1] == 1
    assert found.may_hold(shared).all()
    assert int(found._bits[2:].sum()) == 0
