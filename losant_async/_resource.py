"""The base of every generated resource class: hands each call to the transport."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from ._action import Action
    from ._transport import Transport
    from .sse import EventStream

T = TypeVar("T")


class Resource:
    """A group of actions bound to one client's transport."""

    __slots__ = ("_transport",)

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _call(self, action: Action[T], args: dict[str, Any]) -> Coroutine[Any, Any, T]:
        # The transport's coroutine itself, not one more wrapped around it.
        return self._transport.call(action, args)

    def _stream(self, action: Action[T], args: dict[str, Any]) -> EventStream[T]:
        from .sse import EventStream

        return EventStream.for_action(self._transport, action, args)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} resource>"
