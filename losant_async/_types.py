"""Small public types shared by the client and the generated resources."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO, TypeAlias


@dataclass(frozen=True, slots=True)
class Timeout:
    """Seconds to wait: ``connect`` for a connection, ``total`` for a whole attempt.

    ``None`` means no limit. Streams apply ``connect`` only, and watch for silence with
    their own idle watchdog.
    """

    total: float | None = 60.0
    connect: float | None = 10.0


TimeoutArg: TypeAlias = "float | Timeout | None"
"""A per-call override: seconds for the total, a :class:`Timeout`, or ``None`` (the
client's default)."""

FileInput: TypeAlias = "bytes | bytearray | IO[bytes] | os.PathLike[str]"
"""A file field of a multipart upload: its bytes, an open binary file, or a path."""
