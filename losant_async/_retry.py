"""When to retry a failed attempt, and how long to wait first.

Retried for every method: connection errors before the request was sent, 408, 429 and
503 (the server did not act). Retried only for idempotent methods (or a POST whose caller
opted in): 500, 502, 504, timeouts and connections dropped after sending (the server may
have acted). Waits are exponential with full jitter, or the server's ``Retry-After``
(capped). A retry budget, refilled by successes, stops retry storms while the API is down.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
ALWAYS_RETRY = frozenset({408, 429, 503})
IDEMPOTENT_RETRY = frozenset({500, 502, 504})


@dataclass
class RetryBudget:
    """A token bucket of retries: each retry spends one, each success adds ``refill``.

    With the defaults, once 10 retries have run without successes in between, further
    failures are raised at once until successes refill the bucket.
    """

    capacity: float = 10.0
    refill: float = 0.1
    _tokens: float = field(init=False, default=-1.0)

    def __post_init__(self) -> None:
        self._tokens = self.capacity

    @property
    def tokens(self) -> float:
        return self._tokens

    def try_spend(self) -> bool:
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def success(self) -> None:
        if self._tokens < self.capacity:  # full, as it mostly is: nothing to add
            # Rounded so that ten refills of 0.1 make a whole token.
            self._tokens = min(self.capacity, round(self._tokens + self.refill, 9))


@dataclass
class RetryPolicy:
    """How the client retries failed attempts.

    ``max_retries`` extra attempts (2: at most 3 in all); waits of
    ``uniform(0, min(backoff_max, backoff_base * 2**n))``; ``Retry-After`` honoured up to
    ``retry_after_max`` seconds; ``retry_post`` opts non-idempotent calls into the retries
    reserved for idempotent ones; ``budget`` is shared by every call of the client.
    """

    max_retries: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    retry_after_max: float = 60.0
    retry_post: bool = False
    budget: RetryBudget | None = field(default_factory=RetryBudget)

    def retryable_status(self, method: str, status: int) -> bool:
        if status in ALWAYS_RETRY:
            return True
        return status in IDEMPOTENT_RETRY and self._may_repeat(method)

    def retryable_error(self, method: str, *, sent: bool) -> bool:
        return not sent or self._may_repeat(method)

    def _may_repeat(self, method: str) -> bool:
        return method in IDEMPOTENT or self.retry_post

    def delay(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        if retry_after is not None:
            seconds = parse_retry_after(retry_after)
            if seconds is not None:
                return min(seconds, self.retry_after_max)
        return random.uniform(0.0, min(self.backoff_max, self.backoff_base * (2**attempt)))


def parse_retry_after(value: str) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if invalid."""
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() is True too
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000": UTC, not the host's local time
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - time.time())
