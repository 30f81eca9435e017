"""The server's clock: every time the server reads (usage windows, timestamps of stored
objects, stream events) comes from here, so a fixed clock makes every answer repeatable."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

Instant = datetime | int | float
"""A moment: an aware :class:`~datetime.datetime`, or milliseconds since the Unix epoch."""
Now = Instant | Callable[[], Instant] | None
"""What ``FakeLosant(now=...)`` takes: a fixed instant, a callable read on every use, or
None for the machine's clock."""


def epoch_ms(instant: Instant) -> int:
    """``instant`` in whole milliseconds since the epoch; naive datetimes are refused (their
    zone would be the machine's, which is what a fixed clock must not depend on)."""
    if isinstance(instant, datetime):
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(f"the clock needs an aware datetime (with tzinfo), not {instant!r}")
        return round(instant.timestamp() * 1000)
    if isinstance(instant, bool) or not isinstance(instant, int | float):
        raise TypeError(f"a clock reading must be a datetime or epoch ms, not {instant!r}")
    return int(instant)


class Clock:
    """``Clock(now)()`` is the current time in epoch ms, as ``now`` says (see :data:`Now`)."""

    __slots__ = ("_read",)

    def __init__(self, now: Now = None) -> None:
        if now is None:
            self._read: Callable[[], int] = lambda: int(time.time() * 1000)
        elif callable(now):
            source = now
            self._read = lambda: epoch_ms(source())
        else:
            fixed = epoch_ms(now)
            self._read = lambda: fixed

    def __call__(self) -> int:
        return self._read()
