"""Items of an iterator produced ahead, on a thread of their own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from queue import Empty, Full, Queue
from threading import Event, Thread
from typing import Any, TypeVar

__all__ = ["read_ahead"]

_DONE = object()
_T = TypeVar("_T")


@contextmanager
def read_ahead(
    items: Iterator[_T], depth: int = 1, name: str = "trellis-read"
) -> Iterator[Iterator[_T]]:
    """`items`, produced up to `depth` ahead by a thread (for ingest: reading, splitting, hashing).

    The producer's errors surface in the consumer; when the consumer stops
    early, the producer stops at its next item.
    """
    ready: Queue[Any] = Queue(maxsize=depth)
    stop = Event()

    def produce() -> None:
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
