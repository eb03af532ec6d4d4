"""Items of an iterator produced ahead, on a thread of their own."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from queue import Empty, Full, Queue
from threading import Event, Thread, get_native_id
from typing import Any, TypeVar

__all__ = ["read_ahead"]

_DONE = object()
_T = TypeVar("_T")


@contextmanager
def read_ahead(
    items: Iterator[_T], depth: int = 1, name: str = "trellis-read", nice: int = 0
) -> Iterator[Iterator[_T]]:
    """`items`, produced up to `depth` ahead by a thread (for ingest: reading, splitting, hashing).

    The producer's errors surface in the consumer; when the consumer stops
    early, the producer stops at its next item. `nice` lowers the producer
    thread's scheduling priority by that much (Linux, where threads have
    their own): a consumer that is the slower stage then gets a core first.
    """
    ready: Queue[Any] = Queue(maxsize=depth)
    stop = Event()

    def produce() -> None:
        if nice:
            _lower_priority(nice)
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        ready.put(item, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            ready.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            ready.put(exc)

    def consume() -> Iterator[_T]:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item

    producer = Thread(target=produce, name=name, daemon=True)
    producer.start()
    try:
        yield consume()
    finally:
        stop.set()
        while producer.is_alive():  # unblock a producer waiting to put
            try:
                ready.get_nowait()
            except Empty:
                producer.join(0.05)


def _lower_priority(nice: int) -> None:
    """Lower the calling thread's priority by `nice` (Linux only: elsewhere a thread id is
    not a process id, and the whole process would be lowered)."""
    if sys.platform != "linux":
        return
    tid = get_native_id()
    with contextlib.suppress(OSError):  # (a sandbox may refuse it: the thread runs as it is)
        os.setpriority(os.PRIO_PROCESS, tid, min(os.getpriority(os.PRIO_PROCESS, tid) + nice, 19))
