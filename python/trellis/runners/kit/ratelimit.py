"""Requests-per-second and tokens-per-minute limits per endpoint (token buckets).

A 429 with Retry-After pauses the whole endpoint, not just the one request:
the server has said it is saturated, so the other lanes wait too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self, rate_per_s: float, capacity: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate_per_s
        self.capacity = capacity
        self.tokens = capacity
        self.clock = clock
        self.updated = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait_time(self, amount: float) -> float:
        """Seconds until `amount` is available (0: take it now)."""
        self._refill()
        amount = min(amount, self.capacity)
        if self.tokens >= amount:
            return 0.0
        return (amount - self.tokens) / self.rate

    def take(self, amount: float) -> None:
        self.tokens -= min(amount, self.capacity)


class EndpointLimiter:
    """Both limits of one endpoint, plus a pause set by Retry-After."""

    def __init__(
        self, rps: float | None, tpm: float | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock
        self.requests = TokenBucket(rps, max(1.0, rps), clock) if rps else None
        self.tokens = TokenBucket(tpm / 60.0, tpm, clock) if tpm else None
        self.paused_until = 0.0
        self.lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    async def acquire(self, tokens: float) -> None:
        if self.requests is None and self.tokens is None and self.paused_until <= self.clock():
            return
        async with self.lock:  # first come, first served
            while True:
                wait = max(0.0, self.paused_until - self.clock())
                if self.requests is not None:
                    wait = max(wait, self.requests.wait_time(1))
                if self.tokens is not None:
                    wait = max(wait, self.tokens.wait_time(tokens))
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            if self.requests is not None:
                self.requests.take(1)
            if self.tokens is not None:
                self.tokens.take(tokens)
