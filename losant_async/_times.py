"""Time arguments: Python dates and times as the API's milliseconds since the epoch.

Every query parameter the API documents as "ms since epoch" (``start``, ``end``,
``since``, ``date``, ``month``) takes:

- an aware :class:`~datetime.datetime`: its instant, in whole milliseconds (floored);
- a :class:`~datetime.date`: midnight UTC of that day;
- a :class:`~datetime.timedelta` of zero or less: relative to now, sent as the API's own
  negative value (``timedelta(days=-30)`` is ``-2592000000``, ``timedelta(0)`` is ``0``,
  which the API reads as now). Losant documents negative values as "relative to now"
  (``device.export``, and the ``-2592000000`` default of ``payloadCounts``), so the
  server resolves them with its own clock: no skew between the two clocks, and a retried
  request means what the first attempt meant. :func:`resolve_epoch_ms` turns them into
  absolute times with a given clock instead, for callers that need one fixed window
  across many requests;
- an ``int``: sent as is when it is 0, negative (the API's "now" and "relative to now"),
  1 (the API's own "from the beginning" default) or a date from 2001 on; any other
  positive int is a date before 2001 in milliseconds, and almost surely seconds passed
  by mistake, so it is refused, as are ints past the year 9999 (micro- or nanoseconds);
- a ``str`` of ASCII digits: read as that int.

Anything else (a naive datetime, a float, a positive timedelta, any other string) raises
``TypeError`` or ``ValueError`` naming the parameter, before a request is made.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeAlias

__all__ = [
    "MAX_MS",
    "MIN_MS",
    "TimeArg",
    "resolve_epoch_ms",
    "to_epoch_ms",
]

TimeArg: TypeAlias = "datetime | date | timedelta | int | str"
"""What a time parameter accepts; see :func:`to_epoch_ms`."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

MIN_MS = 978_307_200_000
"""2001-01-01T00:00:00Z: positive values below this (except 1) are refused as seconds."""
MAX_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z, the last instant a datetime can hold."""

# The API's own "from the very beginning" value (the default ``start`` of device.export).
_FROM_THE_BEGINNING = 1


def _ms_of_delta(delta: timedelta) -> int:
    return delta // _MS  # exact integer arithmetic, floored


def to_epoch_ms(value: TimeArg, name: str = "time") -> int:
    """``value`` as the API's milliseconds since the epoch (negative: relative to now).

    ``name`` is the parameter's name, used in error messages.
    """
    if isinstance(value, datetime):  # before date: a datetime is a date
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"{name}: naive datetime {value.isoformat()} has no time zone; "
                "give it one (datetime(..., tzinfo=datetime.UTC)) so its instant is known"
            )
        return _ms_of_delta(value - _EPOCH)
    if isinstance(value, date):
        return _ms_of_delta(datetime(value.year, value.month, value.day, tzinfo=UTC) - _EPOCH)
    if isinstance(value, timedelta):
        if value > timedelta(0):
            raise ValueError(
                f"{name}: timedelta {value} is in the future; a timedelta means relative "
                "to now and the API counts back only (use a negative timedelta, or a "
                "datetime for a future time)"
            )
        return _ms_of_delta(value)
    if isinstance(value, bool):  # before int: a bool is an int
        raise TypeError(f"{name}: takes a datetime, date, timedelta or int ms, not a bool")
    if isinstance(value, int):
        return _checked_int(value, name)
    if isinstance(value, str):
        # str.isdigit() is True for "²" and other non-ASCII digits: ASCII only.
        if not (value.isascii() and value.isdigit()):
            raise ValueError(
                f"{name}: {value!r} is not milliseconds since the epoch; pass a datetime "
                "(datetime.fromisoformat(...) with a time zone), a date, a timedelta or "
                "an int"
            )
        return _checked_int(int(value), name)
    if isinstance(value, float):
        raise TypeError(
            f"{name}: takes a datetime, date, timedelta or int ms, not a float "
            "(time.time() is seconds: use datetime.now(datetime.UTC) instead)"
        )
    raise TypeError(
        f"{name}: takes a datetime, date, timedelta or int ms, not {type(value).__name__}"
    )


def _checked_int(value: int, name: str) -> int:
    if value <= 0 or value == _FROM_THE_BEGINNING:
        return value
    if value < MIN_MS:
        when = (_EPOCH + value * _MS).strftime("%Y-%m-%d")
        hint = ""
        if MIN_MS <= value * 1000 <= MAX_MS:
            hint = f" (as seconds it is {(_EPOCH + value * 1000 * _MS).strftime('%Y-%m-%d')})"
        raise ValueError(
            f"{name}: {value} as milliseconds is {when}, before 2001; seconds were probably "
            f"passed{hint}: give milliseconds (seconds * 1000) or a datetime"
        )
    if value > MAX_MS:
        raise ValueError(
            f"{name}: {value} is past the year 9999 as milliseconds; micro- or nanoseconds "
            "were probably passed: give milliseconds or a datetime"
        )
    return value


def resolve_epoch_ms(
    value: TimeArg, name: str = "time", *, now: Callable[[], datetime] | None = None
) -> int:
    """Like :func:`to_epoch_ms`, but relative values (0, negatives, a timedelta) become
    absolute milliseconds using ``now`` (an aware datetime; the system clock by default),
    so that many requests share one fixed instant."""
    ms = to_epoch_ms(value, name)
    if ms > 0:
        return ms
    current = now() if now is not None else datetime.now(UTC)
    if current.tzinfo is None or current.utcoffset() is None:
        raise ValueError(f"{name}: the clock gave a naive datetime")
    return _ms_of_delta(current - _EPOCH) + ms
