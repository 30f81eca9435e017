"""Answers for actions without state: values generated from the response schema, with the
request's own data (path IDs, body fields, paging params) reflected where they belong."""

from __future__ import annotations

import random

from ._call import Call
from ._schema import JSON, Generator, Schemas

_COLLECTION_ITEMS = 2


def _props(schemas: Schemas, schema: JSON) -> dict[str, JSON]:
    node = schemas.resolve(schema)
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            return props
    return {}


class GenericResponder:
    """Deterministic bodies: the same seed and request path give the same body."""

    def __init__(self, schemas: Schemas, seed: int) -> None:
        self.schemas = schemas
        self.generator = Generator(schemas)
        self.seed = seed

    def rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def body(self, call: Call, raw_path: str) -> JSON:
        action = call.action
        name = action.success_schema
        if name is None:
            return None
        rng = self.rng(action.method, raw_path)
        schema = self.schemas[name]
        value = self.generator.value(schema, rng)
        if isinstance(value, dict):
            self.reflect(call, schema, value, rng)
        return value

    def set_if_valid(
        self,
        props: dict[str, JSON],
        target: dict[str, JSON],
        key: str,
        val: JSON,
        *,
        prune: bool = True,
    ) -> bool:
        """Set ``target[key]`` to ``val`` if the schema declares ``key`` and ``val`` is valid
        for it; ``prune`` keeps only the properties the schema declares (for values from a
        request, which may carry more than the answer holds)."""
        sub = props.get(key)
        if sub is None or not self.schemas.is_valid(sub, val):
            return False
        target[key] = self.schemas.declared(sub, val) if prune else val
        return True

    def reflect(self, call: Call, schema: JSON, value: dict[str, JSON], rng: random.Random) -> None:
        """Echo what the request said into ``value`` wherever the schema allows it."""
        props = _props(self.schemas, schema)
        if not props:
            return
        action = call.action
        for key, val in call.path_params.items():
            self.set_if_valid(props, value, key, val)
        own = _own_id_param(action.segments)
        if own is not None and "items" not in props:
            self.set_if_valid(props, value, "id", call.path_params[own])
        body = call.body
        if action.method in ("POST", "PATCH") and isinstance(body, dict):
            for key, val in body.items():
                if key not in call.path_params:
                    self.set_if_valid(props, value, key, val)
        if "items" in props and isinstance(value.get("items"), list):
            self._collection(call, props, value, rng)

    def _collection(
        self, call: Call, props: dict[str, JSON], value: dict[str, JSON], rng: random.Random
    ) -> None:
        items_schema = self.schemas.resolve(props["items"])
        item_schema = items_schema.get("items", {}) if isinstance(items_schema, dict) else {}
        items = [self.generator.value(item_schema, rng) for _ in range(_COLLECTION_ITEMS)]
        if isinstance(items_schema, dict) and "maxItems" in items_schema:
            items = items[: items_schema["maxItems"]]
        value["items"] = items
        meta: dict[str, JSON] = {"count": len(items), "totalCount": len(items)}
        if "page" in props:
            meta["page"] = call.int("page", 0)
        if "perPage" in props:
            meta["perPage"] = call.int("perPage", 100)
        if "limit" in props:
            meta["limit"] = call.int("limit", 100)
        if "hasMore" in props:
            meta["hasMore"] = False
        for key in ("sortField", "sortDirection", "filter", "filterField"):
            val = call.q(key)
            if val is not None:
                meta[key] = val
            else:
                value.pop(key, None)
        for key, val in meta.items():
            if key in props and not self.set_if_valid(props, value, key, val):
                value.pop(key, None)


def _own_id_param(segments: tuple[str, ...]) -> str | None:
    """The path param naming the object an action acts on: the last segment, when it is a
    param (``deviceId`` in ``/applications/{applicationId}/devices/{deviceId}``)."""
    if segments and segments[-1].startswith("{"):
        return segments[-1][1:-1]
    return None
