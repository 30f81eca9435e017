"""Small public types shared by the client and the generated resources."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import IO, TypeAlias


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


TimeoutArg: TypeAlias = "float | Timeout | None"
"""A per-call override: seconds for the total, a :class:`Timeout`, or ``None`` (the
client's default)."""

FileInput: TypeAlias = "bytes | bytearray | IO[bytes] | os.PathLike[str]"
"""A file field of a multipart upload: its bytes, an open binary file, or a path."""
