"""The route table and schemas the local Losant server (``losant_async.testing``) serves.

A derived, compact form of the description: only what routing, validation and response
generation need (no descriptions or examples), so the shipped server does not depend on
the description files being present.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .spec import ApiSpec, resolve_ref

JSON = Any

_KEEP = {
    "type", "properties", "patternProperties", "additionalProperties", "items", "required",
    "enum", "oneOf", "anyOf", "allOf", "format", "pattern", "minLength", "maxLength",
    "minItems", "maxItems", "minimum", "maximum", "$ref", "minProperties", "maxProperties",
    "uniqueItems", "default", "definitions",
}  # fmt: skip
_MAPS = {"properties", "patternProperties", "definitions"}
_PARAM_KEYS = ("name", "in", "type", "required", "default", "enum", "pattern")


def _reduce(node: JSON) -> JSON:
    if isinstance(node, list):
        return [_reduce(x) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, JSON] = {}
    for key, value in node.items():
        if key not in _KEEP:
            continue
        if key in _MAPS and isinstance(value, dict):
            out[key] = {k: _reduce(v) for k, v in value.items()}
        else:
            out[key] = _reduce(value)
    return out


def _param(p: JSON) -> JSON:
    out = {k: p[k] for k in _PARAM_KEYS if k in p}
    if "schema" in p:
        out["schema"] = resolve_ref(p["schema"]["$ref"])
    return out


def server_data(spec: ApiSpec, referenced: list[str]) -> JSON:
    """Routes of every action plus every schema they reach."""
    names = set(referenced)
    todo = list(names)
    while todo:
        for ref in re.findall(r"#/definitions/(\w+)", json.dumps(spec.schemas[todo.pop()])):
            if ref in spec.schemas and ref not in names:
                names.add(ref)
                todo.append(ref)
    resources: dict[str, JSON] = {}
    for rname, res in spec.api.items():
        actions: dict[str, JSON] = {}
        for aname, action in res["actions"].items():
            responses: dict[str, JSON] = {}
            events: dict[str, str] = {}
            for code, resp in action["responses"].items():
                ref = (resp.get("schema") or {}).get("$ref")
                responses[code] = resolve_ref(ref) if ref else None
                for event, info in (resp.get("sseEvents") or {}).items():
                    events[event] = resolve_ref(info["schema"]["$ref"])
            entry: JSON = {
                "method": action["method"],
                "path": res["path"] + action.get("path", ""),
                "params": [_param(p) for p in [*res.get("params", []), *action.get("params", [])]],
                "responses": responses,
                "auth": action.get("auth", []),
            }
            if events:
                entry["sseEvents"] = events
            actions[aname] = entry
        resources[rname] = {"path": res["path"], "actions": actions}
    return {
        "apiVersion": spec.api_version,
        "globalParams": [_param(p) for p in spec.global_params],
        "resources": resources,
        "schemas": {n: _reduce(spec.schemas[n]) for n in sorted(names)},
    }
