"""The API description the server serves: actions, their params and a segment trie of routes."""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass, field
from typing import Any

import msgspec

JSON = Any

ID_PATTERN = r"^[A-Fa-f\d]{24}$"


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of an action as the description gives it."""

    name: str
    location: str  # path | query | body | multipart | header
    type: str | None = None
    required: bool = False
    default: JSON = None
    enum: tuple[JSON, ...] | None = None
    pattern: str | None = None
    schema: str | None = None  # a name in ``Api.schemas``

    @classmethod
    def from_json(cls, raw: dict[str, JSON]) -> ParamSpec:
        enum = raw.get("enum")
        return cls(
            name=raw["name"],
            location=raw["in"],
            type=raw.get("type"),
            required=bool(raw.get("required", False)),
            default=raw.get("default"),
            enum=tuple(enum) if enum is not None else None,
            pattern=raw.get("pattern"),
            schema=raw.get("schema"),
        )


@dataclass(slots=True)
class ActionSpec:
    """One action: where it lives, what it takes and what it answers."""

    resource: str
    name: str
    method: str
    path: str
    params: tuple[ParamSpec, ...]
    responses: dict[int, str | None]
    auth: tuple[str, ...]
    sse_events: dict[str, str] | None
    segments: tuple[str, ...] = field(init=False)
    success_status: int = field(init=False)
    path_params: tuple[str, ...] = field(init=False)
    body_param: ParamSpec | None = field(init=False)

    def __post_init__(self) -> None:
        self.segments = tuple(s for s in self.path.split("/") if s)
        ok = sorted(code for code in self.responses if 200 <= code < 300)
        self.success_status = ok[0] if ok else 200
        self.path_params = tuple(s[1:-1] for s in self.segments if s.startswith("{"))
        bodies = [p for p in self.params if p.location == "body"]
        self.body_param = bodies[0] if bodies else None

    @property
    def qualname(self) -> str:
        """``instanceOrg.get``."""
        return f"{self.resource}.{self.name}"

    @property
    def success_schema(self) -> str | None:
        """Schema name of the lowest 2xx response (None: no body)."""
        return self.responses.get(self.success_status)

    @property
    def needs_auth(self) -> bool:
        """A few actions (logging in, public dashboards) take no token."""
        return bool(self.auth)

    @property
    def is_stream(self) -> bool:
        return self.sse_events is not None

    def params_in(self, location: str) -> tuple[ParamSpec, ...]:
        return tuple(p for p in self.params if p.location == location)


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


@dataclass(slots=True)
class Api:
    """The whole description, indexed for serving."""

    version: str
    global_params: tuple[ParamSpec, ...]
    actions: dict[str, ActionSpec]  # by qualname
    schemas: dict[str, JSON]
    routes: RouteTrie


def _decode() -> JSON:
    raw = importlib.resources.files("losant_async").joinpath("_generated", "api.json").read_bytes()
    return msgspec.json.decode(raw)


@functools.cache
def load_api() -> Api:
    """Read and index the bundled description (once per process)."""
    data = _decode()
    actions: dict[str, ActionSpec] = {}
    routes = RouteTrie()
    for rname, res in data["resources"].items():
        for aname, raw in res["actions"].items():
            action = ActionSpec(
                resource=rname,
                name=aname,
                method=raw["method"],
                path=raw["path"],
                params=tuple(ParamSpec.from_json(p) for p in raw["params"]),
                responses={int(code): schema for code, schema in raw["responses"].items()},
                auth=tuple(raw.get("auth", ())),
                sse_events=raw.get("sseEvents"),
            )
            actions[action.qualname] = action
            routes.add(action)
    return Api(
        version=data["apiVersion"],
        global_params=tuple(ParamSpec.from_json(p) for p in data["globalParams"]),
        actions=actions,
        schemas=data["schemas"],
        routes=routes,
    )
