"""Small public types shared by the client and the generated resources, and the one place
where timeout and stream settings are checked and normalised."""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Final, Literal, TypeAlias

if TYPE_CHECKING:
    from .sse import StreamGap


class NotGiven(enum.Enum):
    """The type of :data:`NOT_GIVEN`: an argument left out, as opposed to ``None``."""

    NOT_GIVEN = "NOT_GIVEN"

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven.NOT_GIVEN
"""The default of a per-call ``timeout``: the client's own. ``None`` means no limit."""


@dataclass(frozen=True, slots=True)
class Timeout:
    """Seconds to wait: ``connect`` for a connection, ``total`` for a whole attempt.

    ``None`` means no limit; zero or a negative number is refused (aiohttp would read it
    as no limit). Streams apply ``connect`` only, and watch for silence with their own idle
    watchdog.
    """

    total: float | None = 60.0
    connect: float | None = 10.0

    def __post_init__(self) -> None:
        check_seconds("total", self.total)
        check_seconds("connect", self.connect)


def check_wait(name: str, value: object) -> None:
    """Refuse a wait (a backoff, a cap) that is not a finite number of seconds >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} takes seconds, not {type(value).__name__}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number of seconds >= 0")


def check_seconds(name: str, value: object) -> None:
    """Refuse what aiohttp would silently read as "no limit" (0, negatives) or choke on."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"timeout {name} takes seconds or None, not {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"timeout {name} must be a positive number of seconds (None for no limit); "
            f"got {value!r}"
        )


NO_LIMIT = Timeout(total=None, connect=None)

TimeoutArg: TypeAlias = "float | Timeout | None"
"""A timeout: seconds for the total, a :class:`Timeout`, or ``None`` for no limit (for the
client and per call alike; a per call ``timeout`` left out is the client's)."""


def resolve_timeout(value: TimeoutArg | NotGiven, base: Timeout) -> Timeout:
    """The one reading of a timeout argument: left out, ``base``; ``None``, no limit;
    seconds, that total with ``base``'s connect; a :class:`Timeout`, itself."""
    if value is NOT_GIVEN:
        return base
    if value is None:
        return NO_LIMIT
    if isinstance(value, Timeout):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Timeout(total=float(value), connect=base.connect)
    raise TypeError("timeout takes seconds, a Timeout or None (no limit)")


GapHandler: TypeAlias = "Callable[[StreamGap], Awaitable[None] | None]"
"""A stream's ``on_gap``: a function, sync or async, given each :class:`StreamGap`."""


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """How a stream reconnects (see :class:`~losant_async.EventStream` for each setting).

    Checked here once; a stream's settings are set through its attributes
    (``stream.max_reconnects = 3``), each of which makes a new ``StreamOptions``.
    """

    idle_timeout: float | None = 30.0
    max_event_size: int | None = 1 << 20
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 300.0
    max_reconnects: int | None = None
    on_gap: GapHandler | None = None

    def __post_init__(self) -> None:
        check_seconds("idle_timeout", self.idle_timeout)
        for name in ("backoff_base", "backoff_max", "retry_after_max"):
            check_wait(name, getattr(self, name))
        for name in ("max_event_size", "max_reconnects"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} takes an int or None, not {type(value).__name__}")
            if value < (1 if name == "max_event_size" else 0):
                raise ValueError(f"{name} must be at least {1 if name == 'max_event_size' else 0}")
        if self.on_gap is not None and not callable(self.on_gap):
            raise TypeError("on_gap takes a function or None")


FileInput: TypeAlias = "bytes | bytearray | IO[bytes] | os.PathLike[str]"
"""A file field of a multipart upload: its bytes, an open binary file, or a path."""
