"""losant_async: the asyncio client for the Losant IoT platform API.

``import losant_async`` is cheap: the client, the models and the streaming module load on
first use.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from . import errors
from ._version import API_VERSION, __version__
from .errors import *  # noqa: F403  (every exception, listed once in errors.__all__)

if TYPE_CHECKING:
    from . import hooks as hooks
    from . import models as models
    from . import sse as sse
    from ._client import LosantClient as LosantClient
    from ._decode import LosantDecodeWarning as LosantDecodeWarning
    from ._limits import RateLimit as RateLimit
    from ._retry import RetryBudget as RetryBudget
    from ._retry import RetryPolicy as RetryPolicy
    from ._times import TimeArg as TimeArg
    from ._transport import RawResponse as RawResponse
    from ._transport import TokenProvider as TokenProvider
    from ._types import NOT_GIVEN as NOT_GIVEN
    from ._types import FileInput as FileInput
    from ._types import GapHandler as GapHandler
    from ._types import NotGiven as NotGiven
    from ._types import StreamOptions as StreamOptions
    from ._types import Timeout as Timeout
    from ._types import TimeoutArg as TimeoutArg
    from .hooks import Hooks as Hooks
    from .sse import EventStream as EventStream
    from .sse import ServerSentEvent as ServerSentEvent
    from .sse import StreamGap as StreamGap
    from .sse import StreamStats as StreamStats

__all__ = [
    "API_VERSION",
    "NOT_GIVEN",
    "EventStream",
    "FileInput",
    "GapHandler",
    "Hooks",
    "LosantClient",
    "LosantDecodeWarning",
    "NotGiven",
    "RateLimit",
    "RawResponse",
    "RetryBudget",
    "RetryPolicy",
    "ServerSentEvent",
    "StreamGap",
    "StreamOptions",
    "StreamStats",
    "TimeArg",
    "Timeout",
    "TimeoutArg",
    "TokenProvider",
    "__version__",
    "hooks",
    "models",
    "sse",
]
__all__ += errors.__all__

if os.environ.get("LOSANT_LOG"):  # the library's logging on stderr, without code
    from ._logging import configure_from_env

    configure_from_env()

_LAZY = {
    "LosantClient": ("._client", "LosantClient"),
    "LosantDecodeWarning": ("._decode", "LosantDecodeWarning"),
    "RetryBudget": ("._retry", "RetryBudget"),
    "RetryPolicy": ("._retry", "RetryPolicy"),
    "RateLimit": ("._limits", "RateLimit"),
    "TimeArg": ("._times", "TimeArg"),
    "RawResponse": ("._transport", "RawResponse"),
    "TokenProvider": ("._transport", "TokenProvider"),
    "FileInput": ("._types", "FileInput"),
    "GapHandler": ("._types", "GapHandler"),
    "NOT_GIVEN": ("._types", "NOT_GIVEN"),
    "NotGiven": ("._types", "NotGiven"),
    "StreamOptions": ("._types", "StreamOptions"),
    "Timeout": ("._types", "Timeout"),
    "TimeoutArg": ("._types", "TimeoutArg"),
    "EventStream": (".sse", "EventStream"),
    "ServerSentEvent": (".sse", "ServerSentEvent"),
    "StreamGap": (".sse", "StreamGap"),
    "StreamStats": (".sse", "StreamStats"),
    "Hooks": (".hooks", "Hooks"),
    "hooks": (".hooks", None),
    "models": (".models", None),
    "sse": (".sse", None),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'losant_async' has no attribute {name!r}") from None
    import importlib

    module = importlib.import_module(module_name, __name__)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value
