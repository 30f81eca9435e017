"""Seeded IDs and ready-made valid arguments for every action."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import msgspec

from ._schema import JSON, Generator, hex_id
from ._spec import ActionSpec, Api, load_api
from ._state import EPOCH, State

# An empty zip archive: a well-formed upload for the import actions.
EMPTY_ZIP = b"PK\x05\x06" + b"\x00" * 18

_QUERY_EXAMPLES: dict[str, JSON] = {
    "email": "user@example.com",
    "topic": "example/topic",
    "date": str(EPOCH),
    "filter": "*",
    "key": "key1",
    "version": "develop",
    "columnName": "column1",
    "token": "invite-token",
}

_BODY_EXAMPLES: dict[str, JSON] = {
    "mqttPublishBody": {"topic": "example/topic", "message": "hello"},
    "deviceStateOrStates": {"data": {"temperature": 21.5}},
    "deviceState": {"data": {"temperature": 21.5}},
    "deviceCommand": {"name": "reboot", "payload": {"delay": 5}},
    "multiDeviceCommand": {"name": "reboot", "payload": {"delay": 5}},
    "instanceOrgPost": {"name": "Example Org"},
    "orgPost": {"name": "Example Org"},
    "applicationPost": {"name": "Example Application"},
    "devicePost": {"name": "Example Device", "deviceClass": "standalone"},
    "instanceOrgPatch": {"name": "Renamed Org"},
    "applicationPatch": {"name": "Renamed Application"},
    "devicePatch": {"name": "Renamed Device"},
}


class SeededIds:
    """IDs of the stored objects (read live: created and deleted objects show up).

    ``instance_id``, ``org_ids``, ``sandbox_ids``, ``application_ids``, ``device_ids``
    (lists of all), ``org_application_ids`` / ``sandbox_application_ids`` /
    ``application_device_ids`` (by owner), and the first of each: ``org_id``,
    ``sandbox_id``, ``application_id``, ``device_id``.
    """

    def __init__(self, state: State) -> None:
        self._state = state

    @property
    def instance_id(self) -> str:
        return self._state.instance_id

    @property
    def user_id(self) -> str:
        """The user the token belongs to (owner of applications made without an org)."""
        return self._state.user_id

    @property
    def org_ids(self) -> list[str]:
        return list(self._state.orgs)

    @property
    def sandbox_ids(self) -> list[str]:
        return [b.id for b in self._state.sandboxes.values() if not b.deleted]

    @property
    def application_ids(self) -> list[str]:
        return list(self._state.apps)

    @property
    def org_application_ids(self) -> dict[str, list[str]]:
        return {o.id: list(o.app_ids) for o in self._state.orgs.values()}

    @property
    def sandbox_application_ids(self) -> dict[str, list[str]]:
        return {b.id: list(b.app_ids) for b in self._state.sandboxes.values()}

    @property
    def device_ids(self) -> list[str]:
        """Every device ID, application by application."""
        return [d for ids in self.application_device_ids.values() for d in ids]

    @property
    def application_device_ids(self) -> dict[str, list[str]]:
        """Device IDs by application ID."""
        state = self._state
        return {a.id: list(state.devices(a)) for a in state.apps.values()}

    def devices_of(self, application_id: str) -> list[str]:
        """Device IDs of one application."""
        return list(self._state.devices(self._state.apps[application_id]))

    @property
    def org_id(self) -> str:
        return self.org_ids[0]

    @property
    def sandbox_id(self) -> str:
        return self.sandbox_ids[0]

    @property
    def application_id(self) -> str:
        """The first application of the first org."""
        for org in self._state.orgs.values():
            if org.app_ids:
                return org.app_ids[0]
        return self.application_ids[0]

    @property
    def device_id(self) -> str:
        """The first device of ``application_id``."""
        return self.devices_of(self.application_id)[0]


class Examples:
    """Valid arguments for any action, keyed by the API's param names."""

    def __init__(self, api: Api, generator: Generator, ids: SeededIds) -> None:
        self.api = api
        self.generator = generator
        self.ids = ids

    def args(self, qualname: str) -> dict[str, JSON]:
        action = self.api.actions.get(qualname)
        if action is None:
            raise KeyError(f"unknown action {qualname!r}")
        rng = random.Random(f"example:{qualname}")
        out: dict[str, JSON] = {}
        out.update(self._path(action, rng))
        for p in action.params_in("query"):
            if p.required or p.default is not None:
                out[p.name] = self._query_value(p.name, p, rng)
        body = action.body_param
        if body is not None:
            out[body.name] = self.body(body.schema, rng)
        for p in action.params_in("multipart"):
            if p.type == "file":
                out[p.name] = EMPTY_ZIP
            elif p.required:
                out[p.name] = self._query_value(p.name, p, rng)
        return out

    def _path(self, action: ActionSpec, rng: random.Random) -> dict[str, str]:
        ids = self.ids
        # Deleting actions get the last object of a kind, so that the first ones (used by
        # every other action) survive a run through all actions.
        deleting = action.method == "DELETE" or action.name == "delete"
        out: dict[str, str] = {}
        for name in action.path_params:
            if name == "instanceId":
                out[name] = ids.instance_id
            elif name == "orgId":
                orgs = ids.org_ids
                out[name] = orgs[-1] if deleting and action.resource in _ORG else orgs[0]
            elif name == "instanceSandboxId":
                boxes = ids.sandbox_ids
                out[name] = boxes[-1] if deleting and action.resource in _BOX else boxes[0]
            elif name == "applicationId":
                app = ids.application_id
                if deleting and action.resource == "application":
                    owned = ids.org_application_ids.get(ids.org_id, [])
                    app = owned[-1] if owned else app
                out[name] = app
            elif name == "deviceId":
                devices = ids.devices_of(out.get("applicationId", ids.application_id))
                out[name] = devices[-1] if deleting and action.resource == "device" else devices[0]
            else:
                out[name] = hex_id(rng)
        return out

    def _query_value(self, name: str, p: Any, rng: random.Random) -> JSON:
        if p.schema is not None:
            return self.body(p.schema, rng)
        if p.enum:
            return p.default if p.default in p.enum else p.enum[0]
        if p.default is not None and not p.required:
            return p.default
        if p.pattern is not None:
            return self.generator.string({"pattern": p.pattern}, rng, hint=name)
        if p.type == "array":
            return ["example"]
        return _QUERY_EXAMPLES.get(name, "example")

    def body(self, schema_name: str | None, rng: random.Random | None = None) -> JSON:
        """A small valid value of a named schema."""
        if schema_name is None:
            return {}
        if schema_name in _BODY_EXAMPLES:
            return _copy(_BODY_EXAMPLES[schema_name])
        rng = rng or random.Random(schema_name)
        schema = self.generator.schemas[schema_name]
        return self.generator.value(schema, rng, full=False)


_ORG = ("instanceOrg", "org")
_BOX = ("instanceSandbox",)


def _copy(value: JSON) -> JSON:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@dataclass(slots=True)
class HttpCall:
    """An action call as HTTP: what a client sends for ``args``."""

    method: str
    path: str
    query: list[tuple[str, str]]
    json: JSON = None
    files: list[tuple[str, bytes | str, str | None]] | None = None
    headers: dict[str, str] = field(default_factory=dict)


def encode_request(qualname: str, args: dict[str, JSON]) -> HttpCall:
    """Place ``args`` of action ``qualname`` (keyed by API param names) the way the API
    expects them: path segments, query strings (objects as JSON, arrays as ``name[i]``),
    a JSON body or multipart fields."""
    action = load_api().actions[qualname]
    path = action.path
    query: list[tuple[str, str]] = []
    body: JSON = None
    files: list[tuple[str, bytes | str, str | None]] | None = None
    headers: dict[str, str] = {}
    for p in action.params:
        if p.name not in args:
            continue
        value = args[p.name]
        if p.location == "path":
            path = path.replace("{" + p.name + "}", quote(str(value), safe=""))
        elif p.location == "query":
            if p.type == "array" and isinstance(value, list):
                query.extend((f"{p.name}[{i}]", _text(v)) for i, v in enumerate(value))
            elif p.schema is not None or p.type == "object":
                query.append((p.name, msgspec.json.encode(value).decode()))
            else:
                query.append((p.name, _text(value)))
        elif p.location == "body":
            body = value
        elif p.location == "multipart":
            files = files if files is not None else []
            if p.type == "file":
                files.append((p.name, value, p.name))
            elif p.schema is not None or p.type == "object":
                files.append((p.name, msgspec.json.encode(value).decode(), None))
            else:
                files.append((p.name, _text(value), None))
        elif p.location == "header":
            headers[p.name] = _text(value)
    return HttpCall(action.method, path, query, body, files, headers)


def _text(value: JSON) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
