"""A request that passed validation (:class:`Call`), and the error answers handlers raise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ._schema import JSON
from ._spec import ActionSpec

Answer = tuple[int, JSON]
"""A status and the JSON body to send."""


class ErrorAnswer(Exception):
    """An error the server answers with: ``status`` and the body ``{"type", "message"}``."""

    def __init__(
        self, status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        return {"type": self.kind, "message": self.message}


def not_found(message: str) -> ErrorAnswer:
    return ErrorAnswer(404, "NotFound", message)


def invalid(message: str) -> ErrorAnswer:
    return ErrorAnswer(400, "Validation", message)


def unauthorized(message: str) -> ErrorAnswer:
    return ErrorAnswer(401, "Unauthorized", message)


def as_int(value: JSON, default: int) -> int:
    """``value`` as an int (``"12"``, ``12.0``, ``"1e3"``), or ``default``."""
    try:
        return int(str(value))
    except (TypeError, ValueError):
        try:
            return int(float(str(value)))
        except (TypeError, ValueError, OverflowError):
            return default


@dataclass(slots=True)
class Call:
    """A request that passed validation, with its params parsed."""

    action: ActionSpec
    path_params: dict[str, str]
    query: dict[str, JSON]
    body: JSON = None
    files: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def q(self, name: str, default: JSON = None) -> JSON:
        """A query param as sent, or ``default`` (the declared default when None)."""
        if name in self.query:
            return self.query[name]
        if default is not None:
            return default
        for p in self.action.params:
            if p.name == name:
                return p.default
        return None

    def int(self, name: str, default: int) -> int:
        """A query param as an int; absent: its declared default, else ``default``."""
        return as_int(self.q(name), default)

    def flag(self, name: str) -> bool:
        """A query param as a boolean (``true``, ``1``, ``yes``)."""
        value = self.q(name)
        return value is True or (isinstance(value, str) and value.lower() in ("true", "1", "yes"))

    def names(self, name: str) -> set[str]:
        """A comma-separated query param as a set of names."""
        value = self.q(name)
        return {n.strip() for n in str(value).split(",") if n.strip()} if value else set()

    def body_fields(self) -> dict[str, JSON]:
        """The body when it is an object, else an empty one."""
        return self.body if isinstance(self.body, dict) else {}
