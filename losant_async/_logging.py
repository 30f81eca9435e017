"""``LOSANT_LOG=debug|info|warning|error``: the library's logging on stderr, without code.

Read once, when ``losant_async`` is imported. The handler goes on the ``losant_async``
logger (the local server's ``losant_async.testing`` included) and the logger's level is
set; records still propagate, so an application that configures logging itself can leave
the variable unset. What is logged names methods, paths and statuses, never a header, so
never the token: ``debug`` gives each attempt with its status and time, retries and
stream connects, ``info`` adds nothing per call but stream gaps.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _EnvHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler LOSANT_LOG adds (its type tells it apart, so it is added once)."""


def configure_from_env(environ: Mapping[str, str] = os.environ) -> int | None:
    """Apply ``$LOSANT_LOG``; the level set, or None when unset or not understood."""
    value = environ.get("LOSANT_LOG", "").strip()
    if not value:
        return None
    logger = logging.getLogger("losant_async")
    level = LEVELS.get(value.lower())
    if level is None:
        # Not quoted whole: an environment variable may hold anything.
        print(
            f"losant_async: LOSANT_LOG={value[:20]!r} is not one of "
            f"{', '.join(LEVELS)}; logging left as it is",
            file=sys.stderr,
        )
        return None
    if not any(isinstance(h, _EnvHandler) for h in logger.handlers):
        handler = _EnvHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)
    logger.setLevel(level)
    return level
