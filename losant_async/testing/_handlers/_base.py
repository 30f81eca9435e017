"""What every area of handlers shares: the stored state, lookups of the objects a call
names, and answers rendered from stored fields over a schema-generated template."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from .._call import Answer, Call, invalid, not_found
from .._generic import GenericResponder
from .._schema import JSON
from .._state import App, Device, Org, Sandbox, State, Stored, iso
from .._usage import Scope, Usage, Window

Handler = Callable[[Call], Answer]
R = TypeVar("R", bound=Stored)
SUCCESS = {"success": True}


# What a summary field holds: the payload counts, a stored count, or an object of zeros.
PAYLOADS, COUNT, ZEROS = "payloads", "count", "zeros"


@dataclass(slots=True, frozen=True)
class Shape:
    """What rendering an answer of one schema needs, read from the schema once."""

    schema: JSON
    props: dict[str, JSON]
    # (name, what it holds, an object's keys) of each summary field; None: no summary.
    summary: tuple[tuple[str, str, tuple[str, ...]], ...] | None


@dataclass(slots=True)
class Context:
    """The objects the areas answer from, shared by all of them."""

    state: State
    generic: GenericResponder
    usage: Usage
    templates: dict[str, dict[str, JSON]] = field(default_factory=dict)
    shapes: dict[str, Shape] = field(default_factory=dict)


def check_ids(state: State, call: Call) -> None:
    """404 for IDs of stored kinds that are not stored."""
    params = call.path_params
    if "instanceId" in params and params["instanceId"] != state.instance_id:
        raise not_found("Instance was not found")
    if "orgId" in params and params["orgId"] not in state.orgs:
        raise not_found("Organization was not found")
    if "instanceSandboxId" in params:
        box = state.sandboxes.get(params["instanceSandboxId"])
        if box is None or (box.deleted and call.action.name != "undelete"):
            raise not_found("Sandbox was not found")
    if "applicationId" in params:
        app = state.apps.get(params["applicationId"])
        if app is None:
            raise not_found("Application was not found")
        if "deviceId" in params and params["deviceId"] not in state.devices(app):
            raise not_found("Device was not found")


class Area:
    """Base of an area's handlers: ``self.state``, lookups and rendering."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.state = ctx.state
        self.generic = ctx.generic
        self.schemas = ctx.generic.schemas
        self.usage = ctx.usage

    def _org(self, call: Call) -> Org:
        return self.state.orgs[call.path_params["orgId"]]

    def _app(self, call: Call) -> App:
        return self.state.apps[call.path_params["applicationId"]]

    def _device(self, call: Call) -> Device:
        return self.state.devices(self._app(call))[call.path_params["deviceId"]]

    def _listed_apps(self, call: Call) -> list[App]:
        """``applications.get``'s list: by ``orgId``; a blank one: the user's own."""
        apps = list(self.state.apps.values())
        org_id = call.q("orgId")
        if org_id:
            apps = [a for a in apps if a.org_id == org_id]
        elif org_id is not None:  # blank: the user's own applications
            apps = [a for a in apps if a.owner_id == self.state.user_id]
        return apps

    def _sandbox(self, call: Call) -> Sandbox:
        return self.state.sandboxes[call.path_params["instanceSandboxId"]]

    @staticmethod
    def _core(record: Stored, id_name: str, **fields: JSON) -> dict[str, JSON]:
        """The stored fields every answer about ``record`` carries, and ``fields``."""
        core: dict[str, JSON] = {"id": record.id, id_name: record.id, **fields}
        core["creationDate"] = iso(record.created)
        core["lastUpdated"] = iso(record.updated)
        return core

    def _patched(self, record: R, call: Call) -> R:
        """``record``, with the body applied when the call is a PATCH (one handler serves
        an object's GET and PATCH)."""
        if call.action.method == "PATCH":
            record.patch(call.body_fields(), self.state.clock())
        return record

    def _schema_props(self, schema: JSON) -> dict[str, JSON]:
        node = self.schemas.resolve(schema)
        props = node.get("properties", {}) if isinstance(node, dict) else {}
        return props if isinstance(props, dict) else {}

    def _item_schema(self, collection: str) -> JSON:
        items = self._schema_props(self.schemas[collection]).get("items", {})
        node = self.schemas.resolve(items)
        return node.get("items", {}) if isinstance(node, dict) else {}

    def _template(self, key: str, schema: JSON, drop: Iterable[str] = ()) -> dict[str, JSON]:
        found = self.ctx.templates.get(key)
        if found is None:
            value = self.generic.generator.value(schema, self.generic.rng("template", key))
            found = value if isinstance(value, dict) else {}
            for name in drop:
                found.pop(name, None)
            self.ctx.templates[key] = found
        return found

    def _schema(self, where: str) -> JSON:
        """The schema named ``where``; ``"devices.item"``: an item of the ``devices`` list."""
        return self._item_schema(where[:-5]) if where.endswith(".item") else self.schemas[where]

    def _shape(self, where: str) -> Shape:
        """The shape of schema ``where``, worked out on first use."""
        found = self.ctx.shapes.get(where)
        if found is None:
            schema = self._schema(where)
            props = self._schema_props(schema)
            summary = props.get("summary")
            fields: list[tuple[str, str, tuple[str, ...]]] | None = None
            if summary is not None:
                fields = []
                for name, sub in self._schema_props(summary).items():
                    node = self.schemas.resolve(sub)
                    kind = node.get("type") if isinstance(node, dict) else None
                    if name == "payloadCount":
                        fields.append((name, PAYLOADS, ()))
                    elif kind == "integer":
                        fields.append((name, COUNT, ()))
                    elif kind == "object":  # notebookStats, storageStats: nothing stored
                        fields.append((name, ZEROS, tuple(self._schema_props(node))))
            found = Shape(schema, props, None if fields is None else tuple(fields))
            self.ctx.shapes[where] = found
        return found

    def _render(
        self, where: str, core: dict[str, JSON], extra: dict[str, JSON], drop: Iterable[str] = ()
    ) -> dict[str, JSON]:
        """An answer of schema ``where``: ``core`` and ``extra`` (as sent, pruned to what the
        schema declares) over a generated template."""
        shape = self._shape(where)
        out = dict(self._template(where, shape.schema, drop))
        props = shape.props
        set_if_valid = self.generic.set_if_valid
        for name, value in core.items():
            set_if_valid(props, out, name, value, prune=False)
        for name, value in extra.items():  # as stored from requests
            set_if_valid(props, out, name, value)
        return out

    def _summary(
        self,
        where: str,
        core: dict[str, JSON],
        scope: Scope,
        *,
        call: Call | None = None,
        **counts: int,
    ) -> None:
        """``core["summary"]``, when the schema has one, describing stored objects: their
        ``counts``, this month's payloads of ``scope``, and 0 for every kind not stored;
        only the fields the call's ``summaryInclude`` names (all when it names none), less
        those its ``summaryExclude`` names."""
        fields = self._shape(where).summary
        if fields is None:
            return
        include, exclude = _names(call, "summaryInclude"), _names(call, "summaryExclude")
        out: dict[str, JSON] = {}
        for name, holds, keys in fields:
            if (include and name not in include) or name in exclude:
                continue
            if holds is PAYLOADS:
                out[name] = self.usage.payload_counts_of(scope, self.usage.this_month(), False)
            elif holds is COUNT:
                out[name] = counts.get(name, 0)
            else:
                out[name] = dict.fromkeys(keys, 0)
        core["summary"] = out

    def time_range(self, call: Call, start_default: int = 0) -> Window:
        """(start, end, now) in ms: ``end`` 0 or absent is now; negative values count back
        from now; an absent ``start`` is ``start_default`` (0: all data)."""
        now = self.state.clock()
        end = call.int("end", 0)
        end = now if end == 0 else (now + end if end < 0 else end)
        start = call.int("start", start_default)
        start = now + start if start < 0 else start
        if start > end:
            raise invalid("start must be before end")
        return start, end, now


def _names(call: Call | None, param: str) -> frozenset[str]:
    """The comma-separated names of a call's query ``param`` (none when it is absent)."""
    value = call.query.get(param) if call is not None else None
    return _split_names(value) if isinstance(value, str) else frozenset()


@functools.lru_cache(maxsize=64)
def _split_names(value: str) -> frozenset[str]:
    # Read once per distinct value, not once per object a list renders.
    return frozenset(name for name in (part.strip() for part in value.split(",")) if name)
