"""apiInfo.json -> what each resource module holds, as plain data for the templates.

One :class:`ResourceView` per resource, one :class:`ActionView` per action, one
:class:`ParamView` per parameter: the Python names, annotations, defaults and docstring
text, decided here once; ``templates`` only lays them out as source.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from losant_async.errors import error_for_status

from .naming import pascal, snake
from .spec import ApiSpec, resolve_ref

JSON = Any

# The keyword arguments every action takes besides its own (streams: the last one only).
GLOBAL_ARGS = (
    ("_actions", "bool", "False"),
    ("_links", "bool", "True"),
    ("_embedded", "bool", "True"),
    ("losantdomain", "str | None", "None"),
)

# A query param is a time when its description says so: "ms since epoch", "milliseconds
# since epoch", or (historicalSummaries' month) "Timestamp ...".
TIME_DESCRIPTION = re.compile(r"\b(ms|milliseconds) since (the )?epoch\b|^timestamp\b", re.I)

# The params each pagination style drives itself, and the one giving the page size.
# A cursor walk keeps ``startingAfterId`` as its start point; it only walks forward.
PAGING_STYLES = {
    "page": ({"page", "perPage"}, {"items", "totalCount"}, "perPage"),
    "cursor": ({"startingAfterId", "limit"}, {"items", "hasMore"}, "limit"),
}
DRIVEN = {"page": {"page", "perPage"}, "cursor": {"limit", "endingBeforeId"}}
DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class ParamView:
    """One parameter: its wire name and place, its keyword, annotation and default."""

    spec: JSON
    attr: str
    annotation: str
    default: str | None  # Python source of the default; None = required
    kind: str  # how the transport encodes it: string | boolean | object | flatten | ...

    @property
    def pattern(self) -> str | None:
        """The pattern the client checks before sending (path and query values only)."""
        return self.spec.get("pattern") if self.spec["in"] in ("path", "query") else None


@dataclass(frozen=True)
class PagingView:
    """How a list action is walked: its style, models and the iterators' own options."""

    style: str  # "page" (page/perPage, totalCount) | "cursor" (startingAfterId/limit, hasMore)
    page: str  # the page model
    item: str  # the item model
    size_attr: str  # the page size option: per_page | limit
    size: int  # the list's own default page size
    params: list[ParamView]  # the list call's params the iterators take
    items_attr: str  # ``iterate`` / ``iterate_<action>``
    pages_attr: str  # ``iterate_pages`` / ``iterate_<action>_pages``
    items_doc: list[str]
    pages_doc: list[str]


@dataclass(frozen=True)
class ActionView:
    """One action: a coroutine (or a stream opener) and the ``Action`` constant it passes."""

    resource: str
    name: str
    attr: str  # the method's name
    const: str  # the module-level ``Action`` constant's name
    method: str
    path: str  # the full path template
    params: list[ParamView]
    returns: str  # the return annotation (streams: the event model)
    statuses: dict[int, str | None]  # success status -> model class (None: no body)
    events: dict[str, str] | None  # SSE event name -> model class; None if not a stream
    doc: list[str]  # docstring lines, unindented and not yet fitted to the line length
    paging: PagingView | None = None  # set for a list action either pagination style walks

    @property
    def stream(self) -> bool:
        return self.events is not None


@dataclass(frozen=True)
class ResourceView:
    """One resource: a class of actions in a module of its own."""

    name: str
    attr: str  # the client's attribute and the module's name
    cls: str
    path: str
    actions: list[ActionView]


class ActionBuilder:
    """Builds the views; ``model_names`` maps schema names to model classes and
    ``item_types`` model classes to the annotation of their ``items`` field."""

    def __init__(
        self,
        spec: ApiSpec,
        model_names: dict[str, str],
        item_types: Mapping[str, str] | None = None,
    ) -> None:
        self.spec = spec
        self.model_names = model_names
        self.item_types = dict(item_types or {})

    def resources(self) -> list[ResourceView]:
        return [self.resource(name) for name in sorted(self.spec.api)]

    def resource(self, name: str) -> ResourceView:
        res = self.spec.api[name]
        actions = [self.action(name, a) for a in sorted(res["actions"])]
        return ResourceView(name, snake(name), pascal(name), res["path"], actions)

    def action(self, resource: str, name: str) -> ActionView:
        res = self.spec.api[resource]
        action = res["actions"][name]
        params = [self.param(p) for p in [*res.get("params", []), *action.get("params", [])]]
        events: dict[str, str] | None = None
        statuses: dict[int, str | None]
        if action.get("sseStream"):
            events = {
                event: self._model(info["schema"]["$ref"])
                for event, info in action["responses"]["200"]["sseEvents"].items()
            }
            returns, statuses = f"models.{next(iter(events.values()))}", {200: None}
        else:
            returns, statuses = self._returns(action)
        paging = None if events else self.paging(resource, name, action, params, statuses.get(200))
        return ActionView(
            resource=resource,
            name=name,
            attr=snake(name),
            const="_" + snake(name).upper().rstrip("_"),
            method=action["method"],
            path=res["path"] + action.get("path", ""),
            params=params,
            returns=returns,
            statuses=statuses,
            events=events,
            doc=self.doc(resource, name, action, params),
            paging=paging,
        )

    def paging(
        self, resource: str, name: str, action: JSON, params: list[ParamView], page: str | None
    ) -> PagingView | None:
        """The pagination of a list action: by its query params and its answer's fields."""
        ref = (action["responses"].get("200", {}).get("schema") or {}).get("$ref")
        if page is None or ref is None:
            return None
        fields = set(self.spec.schemas[resolve_ref(ref)].get("properties", {}))
        query = {p.spec["name"]: p for p in params if p.spec["in"] == "query"}
        styles = [
            (style, size_name)
            for style, (names, answer, size_name) in PAGING_STYLES.items()
            if names <= set(query) and answer <= fields
        ]
        if not styles:
            return None
        ((style, size_name),) = styles
        found = re.fullmatch(r"list\[(\w+)\] \| None", self.item_types.get(page, ""))
        if found is None:
            raise ValueError(f"{page}.items is not a list of models")
        size = query[size_name].spec.get("default")
        base = "iterate" if name == "get" else f"iterate_{snake(name)}"
        size_attr = snake(size_name)
        size = int(size) if size is not None else DEFAULT_PAGE_SIZE
        call = f":meth:`{snake(name)}`"
        if style == "page":
            how = (
                "Pages of ``per_page`` items; once the first gives the total, the next are "
                "fetched ``concurrency`` at a time, and still come out in order. Takes the "
                f"arguments of {call} but ``page`` (the walk drives it), and:"
            )
            options = [
                *_item(f"per_page: Items per request. Default: {size}."),
                *_item("concurrency: Pages fetched at once. Default: 4."),
            ]
        else:
            how = (
                "Pages of ``limit`` items, each fetched after the one before it, from "
                "``starting_after_id`` (exclusive) on, or from the start. Takes the arguments "
                f"of {call} but ``ending_before_id`` (the walk goes forward), and:"
            )
            options = _item(f"limit: Items per request. Default: {size}.")
        common = ["", *textwrap.wrap(how, 80), "", "Args:", *options]
        items_doc = [
            f"Every {found[1]} of ``{resource}.{name}``, over all its pages, in order.",
            *common,
            "",
            "Yields:",
            *_item(f"{found[1]}: each item, as the pages arrive."),
            "",
            "Raises:",
            *_item(f"What {call} raises, when the page that fails is reached."),
        ]
        pages_doc = [
            f"Every page of ``{resource}.{name}``, in order.",
            *common,
            "",
            "Yields:",
            *_item(f"{page}: each page, as {call} returns it."),
            "",
            "Raises:",
            *_item(f"What {call} raises, after the pages before the failing one."),
        ]
        return PagingView(
            style=style,
            page=page,
            item=found[1],
            size_attr=size_attr,
            size=size,
            params=[p for p in params if p.spec["name"] not in DRIVEN[style]],
            items_attr=base,
            pages_attr=f"{base}_pages",
            items_doc=items_doc,
            pages_doc=pages_doc,
        )

    def _model(self, ref: str) -> str:
        return self.model_names[resolve_ref(ref)]

    # -- parameters --------------------------------------------------------------

    def _schema_type(self, ref: str) -> str:
        target = resolve_ref(ref)
        name = f"models.{self.model_names[target]}"
        top = self.spec.schemas[target].get("type")
        if top == "object":
            return f"{name} | Mapping[str, Any]"
        if top == "array":
            return f"{name} | Sequence[Any]"
        return "Any"

    def param(self, p: JSON) -> ParamView:
        """The annotation, default and encoding of one parameter."""
        where, declared = p["in"], p.get("type")
        default = p.get("default")
        hint = default if default is not None else p.get("example")
        if where == "query" and TIME_DESCRIPTION.search(p.get("description") or ""):
            # Converted by ``to_epoch_ms`` before the request. A default that is not a
            # number of ms (month's "now") is left to the server: nothing is sent.
            annotation, kind = "TimeArg", "time"
            if not isinstance(default, int) or isinstance(default, bool):
                default = None
        elif "schema" in p:
            annotation, kind = self._schema_type(p["schema"]["$ref"]), "object"
            if where == "body":
                kind = "json"
            elif where == "query" and declared != "object":
                # Only ``object``-typed filters (``query``) travel as JSON text; the
                # official clients flatten the others: ``tagFilter[0][key]=floor``.
                kind = "flatten"
        elif declared == "file":
            annotation, kind = "FileInput", "file"
        elif declared == "boolean":
            annotation, kind = "bool", "boolean"
        elif declared == "array":
            annotation, kind = "Sequence[str]", "array"
        elif declared == "object":
            annotation, kind = "Mapping[str, Any]", "object"
        elif p.get("enum"):
            values: list[Any] = list(p["enum"])
            if all(isinstance(v, str) and v.isdigit() for v in values):
                # Numeric enums arrive as strings; take the numbers too.
                values += [int(v) for v in values]
                if isinstance(default, int):
                    default = str(default)
            annotation = "Literal[" + ", ".join(repr(v) for v in values) + "]"
            kind = "string"
        elif isinstance(hint, bool):
            annotation, kind = "bool | str", "string"
        elif isinstance(hint, int):
            annotation, kind = "int | str", "string"
        elif isinstance(hint, float):
            annotation, kind = "float | str", "string"
        else:
            annotation, kind = "str", "string"
        if where == "path":
            annotation = "str"
        required = bool(p.get("required")) and default is None
        if required:
            src = None
        elif default is None:
            src = "None"
            if annotation != "Any":
                annotation += " | None"
        else:
            src = repr(default)
        return ParamView(p, snake(p["name"]), annotation, src, kind)

    # -- returns and docs ----------------------------------------------------------

    def _returns(self, action: JSON) -> tuple[str, dict[int, str | None]]:
        statuses: dict[int, str | None] = {}
        for code, resp in sorted(action["responses"].items()):
            if code.startswith("2"):
                ref = (resp.get("schema") or {}).get("$ref")
                statuses[int(code)] = self._model(ref) if ref else None
        names = sorted({n for n in statuses.values() if n})
        ann = " | ".join(f"models.{n}" for n in names) or "None"
        if names and None in statuses.values():
            ann += " | None"
        return ann, statuses

    def doc(self, resource: str, name: str, action: JSON, params: list[ParamView]) -> list[str]:
        """Summary, description, method and path, scopes, Args, Returns/Yields, Raises."""
        stream = bool(action.get("sseStream"))
        lines = [clean(action.get("summary") or f"{resource}.{name}").rstrip(".") + "."]
        if action.get("description"):
            lines += ["", *textwrap.wrap(clean(action["description"]), 80)]
        path = self.spec.api[resource]["path"] + action.get("path", "")
        lines += ["", f"``{action['method']} {path}``"]
        if action.get("auth"):
            lines += ["", "Scopes: " + ", ".join(action["auth"]) + " (or a broader scope)."]
        if params:
            lines += ["", "Args:"]
            for p in params:
                text = clean(p.spec.get("description", ""))
                if p.kind == "time":
                    text += " (a datetime, date, timedelta or int ms)."
                if p.spec.get("default") is not None:
                    text += f" Default: {p.spec['default']!r}."
                lines += _item(f"{p.attr}: {text}")
        if not stream:
            lines += ["    (and the global _actions, _links, _embedded, losantdomain, timeout)"]
        else:
            lines += ["    (and losantdomain, timeout)"]
        ok = [(c, r) for c, r in sorted(action["responses"].items()) if c.startswith("2")]
        lines += ["", "Yields:" if stream else "Returns:"]
        for code, resp in ok:
            if stream:
                for event, info in resp["sseEvents"].items():
                    model = self._model(info["schema"]["$ref"])
                    lines += _item(f"``{event}`` events as {model}: {clean(info['description'])}")
            else:
                ref = (resp.get("schema") or {}).get("$ref")
                model = self._model(ref) if ref else "None"
                lines += _item(f"{code} {model}: {clean(resp['description'])}")
        errors = [(c, r) for c, r in sorted(action["responses"].items()) if not c.startswith("2")]
        if errors:
            lines += ["", "Raises:"]
            for code, resp in errors:
                exc = _error_name(int(code))
                lines += _item(f"{exc}: {code}, {clean(resp['description'])}")
        return lines


def _error_name(status: int) -> str:
    """The exception the client raises for ``status``, by the client's own rule."""
    return type(error_for_status(status, method="", path="", body=b"")).__name__


def clean(text: str) -> str:
    """Text on one line, safe inside a triple-quoted docstring."""
    return " ".join(str(text).split()).replace("\\", "\\\\").replace('"""', "'''")


def _item(text: str) -> list[str]:
    """One entry of an Args/Returns/Raises section, wrapped with a hanging indent."""
    return textwrap.wrap(text, 80, initial_indent="    ", subsequent_indent="        ")
