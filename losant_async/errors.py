"""Every exception the client raises for a failed call subclasses :class:`LosantError`.

API errors carry the HTTP status, Losant's error ``type`` and ``message`` and the raw
body; transport and decoding errors keep whatever bytes arrived, so no response is ever
unreachable. None of them ever holds the API token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConflictError",
    "DecodeError",
    "LosantError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "StreamError",
    "UnprocessableEntityError",
]


class LosantError(Exception):
    """Base class of every error raised for a failed call."""


class APIError(LosantError):
    """The API answered with a non-success status.

    ``type`` and ``message`` come from Losant's error body
    (``{"type": "NotFound", "message": "..."}``) when there is one; ``body`` is the raw
    response body, always.
    """

    def __init__(
        self,
        status: int,
        *,
        method: str,
        path: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})
        self.type, self.message = _parse_error_body(body)
        detail = f": {self.type}: {self.message}" if self.type or self.message else ""
        super().__init__(f"{method} {path} -> {status}{detail}")

    @property
    def retry_after(self) -> str | None:
        """The ``Retry-After`` header as sent, if any."""
        for key, value in self.headers.items():
            if key.lower() == "retry-after":
                return value
        return None


class BadRequestError(APIError):
    """400: the request was malformed or failed validation."""


class AuthenticationError(APIError):
    """401: missing, invalid or expired token."""


class PermissionDeniedError(APIError):
    """403: the token lacks the scope for this action."""


class NotFoundError(APIError):
    """404: the resource does not exist (or is not visible to this token)."""


class ConflictError(APIError):
    """409: the request conflicts with the resource's current state."""


class UnprocessableEntityError(APIError):
    """422: the request was understood but cannot be processed."""


class RateLimitError(APIError):
    """429: too many requests; see :attr:`retry_after`."""


class ServerError(APIError):
    """5xx: the API or something in front of it failed."""


class _Unanswered(LosantError):
    """A request that got no answer: which one (when there was one) and whether it may
    have reached the server."""

    def __init__(
        self, message: str, *, method: str = "", path: str = "", sent: bool = False
    ) -> None:
        self.method = method
        self.path = path
        self.sent = sent
        super().__init__(f"{method} {path}: {message}" if method else message)


class APIConnectionError(_Unanswered):
    """The request could not be sent or the response could not be read in full.

    ``sent`` tells whether the request may have reached the server; ``partial`` holds any
    bytes of the response that did arrive.
    """

    def __init__(
        self, message: str, *, method: str, path: str, sent: bool, partial: bytes = b""
    ) -> None:
        self.partial = partial
        super().__init__(message, method=method, path=path, sent=sent)


class APITimeoutError(APIConnectionError):
    """The connect or total timeout elapsed."""


class ClientClosedError(_Unanswered, RuntimeError):
    """The client was closed before or during the call.

    ``sent`` tells whether the request may have reached the server before the close cut it
    off. Also a ``RuntimeError``, as using a closed client is a mistake of the program.
    """


class DecodeError(LosantError):
    """A success response whose body is not JSON or does not fit its model.

    ``body`` holds the raw bytes; ``status`` the HTTP status.
    """

    def __init__(self, message: str, *, status: int, method: str, path: str, body: bytes) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.body = body
        super().__init__(f"{method} {path} -> {status}: {message}")


class StreamError(LosantError):
    """A server-sent event stream failed in a way that reconnecting cannot fix."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_for_status(
    status: int,
    *,
    method: str,
    path: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
) -> APIError:
    """Build the :class:`APIError` subclass that fits ``status``."""
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
    return cls(status, method=method, path=path, body=body, headers=headers)


def _parse_error_body(body: bytes) -> tuple[str | None, str | None]:
    import msgspec

    try:
        data: Any = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    err_type, message = data.get("type"), data.get("message")
    return (
        err_type if isinstance(err_type, str) else None,
        message if isinstance(message, str) else None,
    )
