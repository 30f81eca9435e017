"""The API description the server serves: its actions, their params and responses."""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass, field

import msgspec

from ._router import RouteTrie
from ._schema import JSON


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
    _located: dict[str, tuple[ParamSpec, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.segments = tuple(s for s in self.path.split("/") if s)
        ok = sorted(code for code in self.responses if 200 <= code < 300)
        self.success_status = ok[0] if ok else 200
        self.path_params = tuple(s[1:-1] for s in self.segments if s.startswith("{"))
        bodies = [p for p in self.params if p.location == "body"]
        self.body_param = bodies[0] if bodies else None
        self._located = {}
        for p in self.params:
            self._located[p.location] = (*self._located.get(p.location, ()), p)

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
        return self._located.get(location, ())


@dataclass(slots=True)
class Api:
    """The whole description, indexed for serving."""

    version: str
    global_params: tuple[ParamSpec, ...]
    actions: dict[str, ActionSpec]  # by qualname
    schemas: dict[str, JSON]
    routes: RouteTrie
    _queries: dict[str, tuple[ParamSpec, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def query_params(self, action: ActionSpec) -> tuple[ParamSpec, ...]:
        """The query params ``action`` takes: its own, then (but for streams) the global
        ones."""
        found = self._queries.get(action.qualname)
        if found is None:
            found = action.params_in("query")
            if not action.is_stream:
                found += tuple(p for p in self.global_params if p.location == "query")
            self._queries[action.qualname] = found
        return found


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
