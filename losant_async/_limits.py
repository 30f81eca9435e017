"""Client-side limits: a cap on calls in flight, and a shared token-bucket rate limiter that
backs off on 429s."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio


@dataclass(frozen=True)
class RateLimit:
    """At most ``rate`` requests a second on average, in bursts of up to ``burst``.

    ``burst`` defaults to one second's worth (``rate`` rounded down, at least 1), so
    ``LosantClient(rate_limit=20)`` and ``LosantClient(rate_limit=RateLimit(20))`` are the
    same limit.
    """

    rate: float
    burst: int = 0  # 0: one second's worth

    def __post_init__(self) -> None:
        if isinstance(self.rate, bool) or not isinstance(self.rate, int | float):
            raise TypeError("RateLimit's rate is requests per second, a number")
        if not self.rate > 0 or self.rate == float("inf") or self.burst < 0:
            raise ValueError(
                "RateLimit needs a finite rate > 0 and a burst >= 1 (0: a second's worth)"
            )
        if self.burst == 0:
            object.__setattr__(self, "burst", max(1, int(self.rate)))

    @classmethod
    def of(cls, rate_limit: float | RateLimit | None) -> RateLimit | None:
        """A client's ``rate_limit=`` argument as a limit: requests a second, or None."""
        if rate_limit is None or isinstance(rate_limit, RateLimit):
            return rate_limit
        return cls(rate_limit)  # the same limit as RateLimit(n)


class TokenBucket:
    """The limiter behind :class:`RateLimit`, shared by every call of one client.

    A 429 halves the current rate (down to a tenth of the configured one) and holds every
    caller until its ``Retry-After`` has passed; each success wins back a twentieth of the
    configured rate. ``clock`` and ``sleep`` are the bucket's time source (seconds) and its
    way to wait; tests pass a virtual clock.
    """

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = anyio.sleep,
    ) -> None:
        self.limit = limit
        self.rate = limit.rate
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(limit.burst)
        self._stamp = clock()
        self._paused_until = 0.0
        self._lock: anyio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the lock serves

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._stamp)  # the stamp is in the future during a pause
        self._tokens = min(float(self.limit.burst), self._tokens + elapsed * self.rate)
        self._stamp = max(self._stamp, now)

    async def acquire(self) -> None:
        """Wait for a token; callers are served in arrival order."""
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            # A client may serve successive event loops: a lock serves one.
            self._lock, self._loop = anyio.Lock(), loop
        async with self._lock:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await self._sleep(self._paused_until - now)
                    continue
                self._refill(now)
                # Within rounding of a whole token: a wait for the last 1e-17 of one would
                # not move the clock and would never end.
                if self._tokens >= 1.0 - 1e-9:
                    self._tokens -= 1.0
                    return
                await self._sleep((1.0 - self._tokens) / self.rate)

    def rebind(self) -> None:
        """Forget the lock of a previous event loop."""
        self._lock = self._loop = None

    def throttled(self, retry_after: float | None) -> None:
        """A 429 arrived: slow down, and pause everyone until ``retry_after`` passes."""
        now = self._clock()
        self._refill(now)
        self.rate = max(self.limit.rate / 10.0, self.rate / 2.0)
        if retry_after:
            self._paused_until = max(self._paused_until, now + retry_after)
            # Nothing accrues while paused: the end of a pause is not a full burst.
            self._tokens = 0.0
            self._stamp = self._paused_until

    def succeeded(self) -> None:
        if self.rate < self.limit.rate:
            self._refill(self._clock())
            self.rate = min(self.limit.rate, self.rate + self.limit.rate / 20.0)


class ConcurrencyLimiter:
    """At most ``total`` holders at a time, waiters served in arrival order.

    Taking a free slot does not yield to the event loop (``try_acquire``); a released slot
    goes straight to the longest waiter, so a newcomer cannot overtake the queue. One per
    client and event loop.
    """

    __slots__ = ("_free", "_waiters")

    def __init__(self, total: int) -> None:
        self._free = total
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_acquire(self) -> bool:
        """Take a slot if one is free and nobody is queued; never waits."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            return True
        return False

    async def acquire(self) -> None:
        """Take a slot, waiting in line for one."""
        if self.try_acquire():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot just as the wait was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        """Give the slot back: to the longest waiter still waiting, or to the pool."""
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

    @property
    def waiting(self) -> int:
        """Callers queued for a slot."""
        return sum(1 for w in self._waiters if not w.done())
