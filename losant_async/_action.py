"""Static descriptions of API actions: what generated code hands to the transport."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

if TYPE_CHECKING:
    from ._encoding import ActionEncoder

T = TypeVar("T")

ID_PATTERN = r"^[A-Fa-f\d]{24}$"


class Param(NamedTuple):
    """One parameter of an action, as the API names and places it."""

    name: str  # the API's name: ``applicationId``
    attr: str  # the Python keyword: ``application_id``
    location: str  # path | query | body | multipart
    kind: str = "string"  # string | boolean | object | flatten | array | json | file | time
    pattern: str | None = None


class Action(Generic[T]):
    """One action: method, path template, parameters and the model of each success status.

    ``T`` is what the action's coroutine returns; ``events`` maps the SSE event names of a
    streaming action to their models.
    """

    __slots__ = ("encoder", "events", "method", "name", "params", "path", "resource", "responses")

    def __init__(
        self,
        resource: str,
        name: str,
        method: str,
        path: str,
        params: tuple[Param, ...],
        responses: dict[int, str | None],
        events: dict[str, str] | None = None,
    ) -> None:
        self.resource = resource
        self.name = name
        self.method = method
        self.path = path
        self.params = params
        self.responses = responses
        self.events = events
        self.encoder: ActionEncoder | None = None  # built by the first call

    @property
    def qualname(self) -> str:
        """``instanceOrg.payloadCountsBreakdown``."""
        return f"{self.resource}.{self.name}"

    def __repr__(self) -> str:
        return f"<Action {self.qualname} {self.method} {self.path}>"
