"""Follow a NATS JetStream stream of contract records and ingest them as they come.

The follower is a durable pull consumer (explicit acks): it fetches a batch,
ingests it through the one ingest path (`ingest_items`, which commits
before it returns), and only then acknowledges the batch's messages. So:

- a crash (kill -9) before the acks loses nothing: JetStream redelivers the
  unacknowledged messages to the durable consumer, and ingest recognises the
  ones already committed by their record id (duplicates, not loaded twice);
- a message that is not a valid record is quarantined (position = its
  stream sequence, raw text = its payload) and acknowledged like the rest,
  so it is never redelivered forever; a redelivered bad message has the same
  quarantine id and adds no row.

A stop request (SIGTERM, Ctrl-C: `request_stop`) lets the current batch
finish, be committed and acknowledged, then the follower returns.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
import nats
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError

from trellis.errors import TrellisError
from trellis.ingest import IngestReport, SourceItem, ingest_items
from trellis.storage import Store

__all__ = ["FollowOptions", "FollowProgress", "Follower"]

_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True)
class FollowOptions:
    url: str
    stream: str
    subject: str
    kind: str = "requests"
    durable: str = "trellis-ingest"
    #: messages a fetch asks for: one ingest call (one commit) a batch
    batch: int = 2000
    #: how long a fetch waits for the first message of a batch
    fetch_wait: float = 1.0
    max_messages: int | None = None
    idle_exit: float | None = None
    #: seconds between two progress reports
    progress_every: float = 5.0
    #: how long JetStream waits for an ack before it redelivers
    ack_wait: float = 60.0


@dataclass
class FollowProgress:
    """Running totals, handed to the progress callback every few seconds."""

    messages: int = 0
    report: IngestReport = field(default_factory=IngestReport)
    started: float = field(default_factory=time.monotonic)
    #: messages of the stream the consumer has not been delivered yet (lag)
    pending: int | None = None

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.messages / elapsed if elapsed > 0 else 0.0


class Follower:
    """One follow run against one store."""

    def __init__(
        self,
        store: Store,
        options: FollowOptions,
        on_progress: Callable[[FollowProgress], None] | None = None,
    ) -> None:
        self.store = store
        self.options = options
        self.on_progress = on_progress
        self.progress = FollowProgress()
        # the stream, not the server: a sequence number is the stream's own
        self.source = f"jetstream:{options.stream}/{options.subject}"
        self.progress.report.files.append(self.source)
        self._stop = asyncio.Event()

    def request_stop(self) -> None:
        """Finish the batch in hand, acknowledge it, and return."""
        self._stop.set()

    async def run(self) -> FollowProgress:
        options = self.options
        try:
            connection = await nats.connect(
                options.url, connect_timeout=5, max_reconnect_attempts=3, allow_reconnect=True
            )
        except Exception as exc:  # nats-py raises several unrelated types on connect
            raise TrellisError(f"cannot connect to NATS at {options.url}: {exc}") from None
        try:
            subscription = await self._subscribe(connection)
            await self._loop(subscription)
        finally:
            # close, not drain: a drain waits for the pull request in flight to expire
            await connection.flush()
            await connection.close()
        return self.progress

    async def _subscribe(self, connection: nats.NATS) -> nats.js.JetStreamContext.PullSubscription:
        options = self.options
        jetstream = connection.jetstream()
        try:
            await jetstream.stream_info(options.stream)
        except NotFoundError:
            raise TrellisError(f"no JetStream stream {options.stream!r} at {options.url}") from None
        return await jetstream.pull_subscribe(
            options.subject,
            durable=options.durable,
            stream=options.stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=options.ack_wait,
                max_ack_pending=max(options.batch * 4, 1000),
            ),
        )

    async def _loop(self, subscription: nats.js.JetStreamContext.PullSubscription) -> None:
        options = self.options
        last_message = time.monotonic()
        last_report = time.monotonic()
        while not self._stop.is_set():
            wanted = options.batch
            if options.max_messages is not None:
                wanted = min(wanted, options.max_messages - self.progress.messages)
                if wanted <= 0:
                    break
            try:
                messages = await subscription.fetch(wanted, timeout=options.fetch_wait)
            except (TimeoutError, NatsTimeout):
                messages = []
            now = time.monotonic()
            if messages:
                self._ingest(messages)
                for message in messages:  # only after the commit of ingest_items
                    await message.ack()
                last_message = now
            elif options.idle_exit is not None and now - last_message >= options.idle_exit:
                break
            if now - last_report >= options.progress_every:
                await self._report(subscription)
                last_report = now
        await self._report(subscription)

    def _ingest(self, messages: list[Msg]) -> None:
        items = [_item(message) for message in messages]
        report = ingest_items(self.store, self.options.kind, items, self.source)
        total = self.progress.report
        total.loaded += report.loaded
        total.duplicates += report.duplicates
        total.already_quarantined += report.already_quarantined
        for reason, count in report.quarantined.items():
            total.quarantined[reason] = total.quarantined.get(reason, 0) + count
        self.progress.messages += len(messages)

    async def _report(self, subscription: nats.js.JetStreamContext.PullSubscription) -> None:
        try:
            info = await subscription.consumer_info()
            self.progress.pending = info.num_pending
        except Exception:  # a progress line never stops the follower
            self.progress.pending = None
        if self.on_progress:
            self.on_progress(self.progress)


def _item(message: Msg) -> SourceItem:
    """A message as a SourceItem: its stream sequence is its position."""
    sequence = message.metadata.sequence.stream
    text = message.data.decode("utf-8", errors="replace")
    try:
        value = _decode(message.data)
    except msgspec.DecodeError:
        return SourceItem(sequence, text, None, "invalid_json")
    if not isinstance(value, dict):
        return SourceItem(sequence, text, None, "not_an_object")
    return SourceItem(sequence, text, value)
