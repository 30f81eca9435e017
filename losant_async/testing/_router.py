"""Routing: which action a method and path name (a segment trie), and its path params."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from ._spec import ActionSpec


class _Node:
    __slots__ = ("actions", "literal", "param")

    def __init__(self) -> None:
        self.literal: dict[str, _Node] = {}
        self.param: _Node | None = None
        self.actions: dict[str, ActionSpec] = {}


class RouteTrie:
    """Routes by path segment; a literal segment wins over a ``{param}`` one.

    Matching backtracks: ``GET /applications/X/devices/export`` has no literal GET route,
    so it falls through to ``/applications/{applicationId}/devices/{deviceId}``, as the
    real API's router would.
    """

    def __init__(self) -> None:
        self._root = _Node()

    def add(self, action: ActionSpec) -> None:
        node = self._root
        for seg in action.segments:
            if seg.startswith("{"):
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                node = node.literal.setdefault(seg, _Node())
        node.actions[action.method] = action

    def match(self, method: str, segments: list[str]) -> ActionSpec | None:
        """The action for ``method`` at the decoded path ``segments``, if any."""
        return self._walk(self._root, segments, 0, method)

    def _walk(self, node: _Node, segs: list[str], i: int, method: str) -> ActionSpec | None:
        if i == len(segs):
            return node.actions.get(method)
        child = node.literal.get(segs[i])
        if child is not None:
            found = self._walk(child, segs, i + 1, method)
            if found is not None:
                return found
        if node.param is not None and segs[i]:
            return self._walk(node.param, segs, i + 1, method)
        return None


def split_path(raw_path: str) -> list[str]:
    """Decoded segments of a raw request path; a trailing slash is ignored."""
    return [unquote(s) for s in raw_path.split("/") if s]


def path_params(action: ActionSpec, segments: list[str]) -> dict[str, str]:
    return {
        tmpl[1:-1]: seg
        for tmpl, seg in zip(action.segments, segments, strict=True)
        if tmpl.startswith("{")
    }
