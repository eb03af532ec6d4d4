"""read_ahead: items made on a thread of their own, in order, errors and priority included."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator

import pytest

from trellis.services.read_ahead import read_ahead


def test_items_arrive_in_order_and_a_producer_error_surfaces_in_the_consumer() -> None:
    def items() -> Iterator[int]:
        yield from range(50)
        raise ValueError("unreadable")

    got: list[int] = []
    with pytest.raises(ValueError, match="unreadable"), read_ahead(items(), depth=3) as ready:
        got.extend(ready)
    assert got == list(range(50))


def test_a_consumer_that_stops_early_stops_the_producer() -> None:
    made: list[int] = []

    def items() -> Iterator[int]:
        for number in range(1000):
            made.append(number)
            yield number

    with read_ahead(items(), depth=2) as ready:
        assert next(ready) == 0
    assert len(made) <= 5  # the first, the two queued, one being put, one more at most


@pytest.mark.skipif(
    sys.platform != "linux",
    reason="only Linux gives a thread a priority of its own; elsewhere read_ahead leaves "
    "priorities alone by design (lowering one would lower the whole process)",
)
def test_the_producer_thread_runs_at_a_lower_priority_than_the_consumer() -> None:
    seen: list[tuple[int, int]] = []

    def items() -> Iterator[int]:
        tid = threading.get_native_id()
        seen.append((tid, os.getpriority(os.PRIO_PROCESS, tid)))
        yield 1

    consumer = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    with read_ahead(items(), nice=5) as ready:
        assert list(ready) == [1]
    ((tid, priority),) = seen
    assert tid != threading.get_native_id()
    assert priority == min(consumer + 5, 19)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == consumer
