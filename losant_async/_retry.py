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
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from ._types import check_wait

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
ALWAYS_RETRY = frozenset({408, 429, 503})
IDEMPOTENT_RETRY = frozenset({500, 502, 504})


@dataclass(frozen=True, slots=True)
class RetryBudget:
    """How many retries a client may make without successes in between: a bucket of
    ``capacity`` retries, each retry spends one, each success adds ``refill``.

    With the defaults, once 10 retries have run without successes in between, further
    failures are raised at once until successes refill the bucket. This is the budget's
    configuration; its state (:class:`BudgetState`) belongs to one client, so two clients
    given one policy do not spend each other's retries.
    """

    capacity: float = 10.0
    refill: float = 0.1

    def __post_init__(self) -> None:
        for name in ("capacity", "refill"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"RetryBudget's {name} takes a number")
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"RetryBudget's {name} must be a finite number >= 0")


class BudgetState:
    """The retries left in one client's :class:`RetryBudget`."""

    __slots__ = ("budget", "tokens")

    def __init__(self, budget: RetryBudget) -> None:
        self.budget = budget
        self.tokens = float(budget.capacity)

    def try_spend(self) -> bool:
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def success(self) -> None:
        capacity = self.budget.capacity
        if self.tokens < capacity:  # full, as it mostly is: nothing to add
            # Rounded so that ten refills of 0.1 make a whole token.
            self.tokens = min(capacity, round(self.tokens + self.budget.refill, 9))


_DEFAULT_BUDGET = RetryBudget()


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the client retries failed attempts (frozen: share one among clients freely).

    ``max_retries`` extra attempts (2: at most 3 in all); waits of
    ``uniform(0, min(backoff_max, backoff_base * 2**n))``; ``Retry-After`` honoured up to
    ``retry_after_max`` seconds; ``retry_post`` opts non-idempotent calls into the retries
    reserved for idempotent ones; ``budget`` (None: unlimited) bounds the retries of each
    client that uses the policy, every call of that client drawing on one budget.
    """

    max_retries: int = 2
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    retry_after_max: float = 60.0
    retry_post: bool = False
    budget: RetryBudget | None = _DEFAULT_BUDGET

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise TypeError("max_retries takes an int")
        if self.max_retries < 0:
            raise ValueError("max_retries must be at least 0")
        for name in ("backoff_base", "backoff_max", "retry_after_max"):
            check_wait(f"RetryPolicy's {name}", getattr(self, name))
        if self.budget is not None and not isinstance(self.budget, RetryBudget):
            raise TypeError("RetryPolicy's budget takes a RetryBudget or None")

    @classmethod
    def of(cls, retry: RetryPolicy | int | None) -> RetryPolicy:
        """A client's ``retry=`` argument as a policy: None, the default; an int, that many
        retries."""
        if retry is None:
            return cls()
        if isinstance(retry, RetryPolicy):
            return retry
        if isinstance(retry, int) and not isinstance(retry, bool):
            return cls(max_retries=retry)
        raise TypeError("retry takes a RetryPolicy, a number of retries or None")

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
