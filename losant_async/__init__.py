"""losant_async: the asyncio client for the Losant IoT platform API.

``import losant_async`` is cheap: the client, the models and the streaming module load on
first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import API_VERSION, __version__
from .errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    DecodeError,
    LosantError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    StreamError,
    UnprocessableEntityError,
)

if TYPE_CHECKING:
    from . import models as models
    from . import sse as sse
    from ._client import LosantClient as LosantClient
    from ._decode import LosantDecodeWarning as LosantDecodeWarning
    from ._limits import RateLimit as RateLimit
    from ._retry import RetryPolicy as RetryPolicy
    from ._types import Timeout as Timeout

__all__ = [
    "API_VERSION",
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "DecodeError",
    "LosantClient",
    "LosantDecodeWarning",
    "LosantError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "StreamError",
    "Timeout",
    "UnprocessableEntityError",
    "__version__",
    "models",
    "sse",
]

_LAZY = {
    "LosantClient": ("._client", "LosantClient"),
    "LosantDecodeWarning": ("._decode", "LosantDecodeWarning"),
    "RetryPolicy": ("._retry", "RetryPolicy"),
    "RateLimit": ("._limits", "RateLimit"),
    "Timeout": ("._types", "Timeout"),
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
