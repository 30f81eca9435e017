"""Every action of apiInfo.json, called through the generated API against a real server.

Driven by the API description itself (not by the generated code): for each of the 375
actions the test builds arguments from the spec's own examples, calls
``client.<resource>.<action>(...)`` and checks the method, path, query, headers and body
that arrived, and the type of what came back.
"""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

import msgspec
import pytest
from aiohttp import web

from codegen.naming import pascal, snake
from codegen.spec import DEFAULT_API
from codegen.spec import load as load_spec
from losant_async import LosantClient, models
from tests.conftest import Scripted

pytestmark = pytest.mark.anyio

SPEC = DEFAULT_API  # the description vendored in codegen/losant-api
API: dict[str, Any] = json.loads((SPEC / "apiInfo.json").read_text())
SCHEMAS = {p.stem: json.loads(p.read_text()) for p in (SPEC / "schemas").glob("*.json")}
# The 5 schemas the data README lists as invalid, as the generator repairs them.
REPAIRED = load_spec(SPEC).schemas
ACTIONS = [(r, a) for r in sorted(API) for a in sorted(API[r]["actions"])]
HEX = "0123456789abcdef"


def test_the_whole_api_is_generated() -> None:
    assert len(API) == 99 and len(ACTIONS) == 375
    client = LosantClient("t")
    for resource, action in ACTIONS:
        method = getattr(getattr(client, snake(resource)), snake(action))
        assert method.__doc__, f"{resource}.{action} has no docstring"
        sig = inspect.signature(method)
        params = [
            *API[resource].get("params", []),
            *API[resource]["actions"][action].get("params", []),
        ]
        for p in params:
            assert snake(p["name"]) in sig.parameters, (resource, action, p["name"])
            kw = sig.parameters[snake(p["name"])]
            assert kw.kind is inspect.Parameter.KEYWORD_ONLY
            if p.get("required") and "default" not in p:
                assert kw.default is inspect.Parameter.empty, (resource, action, p["name"])
    assert callable(client.applications.import_) and callable(client.flows.import_)


def test_every_referenced_schema_has_a_model_with_its_field_names() -> None:
    referenced = set(re.findall(r"#/definitions/(\w+)", json.dumps(API)))
    assert len(referenced) == 302
    checked: set[tuple[type, str]] = set()
    for name in referenced:
        info = msgspec.inspect.type_info(getattr(models, pascal(name)))
        _check_wire_names(info, REPAIRED[name], name, checked)
    assert len(checked) > 400  # nested objects are checked too, not only the top level


def _check_wire_names(
    info: msgspec.inspect.Type, schema: Any, where: str, checked: set[tuple[type, str]]
) -> None:
    """The Struct's wire names are exactly the schema's properties, at every depth."""
    if isinstance(schema, dict) and "$ref" in schema:
        schema = REPAIRED[schema["$ref"].rsplit("/", 1)[-1]]
    if not isinstance(schema, dict):
        return
    if isinstance(info, msgspec.inspect.UnionType):
        for member in info.types:
            _check_wire_names(member, schema, where, checked)
    elif isinstance(info, msgspec.inspect.ListType) and isinstance(schema.get("items"), dict):
        _check_wire_names(info.item_type, schema["items"], f"{where}[]", checked)
    elif isinstance(info, msgspec.inspect.StructType) and schema.get("properties"):
        key = (info.cls, json.dumps(schema, sort_keys=True))
        if key in checked:  # recursive schemas (queries nest $and/$or) end here
            return
        checked.add(key)
        props = schema["properties"]
        assert {f.encode_name for f in info.fields} == set(props), where
        for f in info.fields:
            _check_wire_names(f.type, props[f.encode_name], f"{where}.{f.encode_name}", checked)


def _value(p: dict[str, Any], idx: int) -> Any:
    if p.get("pattern") == r"^[A-Fa-f\d]{24}$":
        return "".join(HEX[(idx * 7 + i) % 16] for i in range(24))
    if p.get("enum"):
        return p["enum"][-1]
    if p.get("type") == "file":
        return b"file-bytes"
    if p.get("type") == "array":
        return ["a", "b"]
    if "schema" in p or p.get("type") == "object":
        target = SCHEMAS.get(p.get("schema", {}).get("$ref", "#/x").rsplit("/", 1)[-1], {})
        return [{"k": "v"}] if target.get("type") == "array" else {"k": "v"}
    if "example" in p and not isinstance(p["example"], dict | list):
        return p["example"]
    return f"v{idx}"


def _wire(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _flattened(key: str, value: Any) -> list[tuple[str, str]]:
    """The official Python client's ``flatten_params`` for structured filters."""
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _flattened(f"{key}[{k}]", v)]
    if isinstance(value, list):
        return [pair for i, v in enumerate(value) for pair in _flattened(f"{key}[{i}]", v)]
    return [(key, _wire(value))]


def _reply_for(schema_name: str | None) -> bytes:
    if schema_name is None:
        return b""
    top = SCHEMAS[schema_name].get("type")
    return b"[]" if top == "array" else b"{}"


@pytest.mark.parametrize(("resource", "action"), ACTIONS, ids=[f"{r}.{a}" for r, a in ACTIONS])
async def test_action_round_trip(scripted: Scripted, resource: str, action: str) -> None:
    spec = API[resource]["actions"][action]
    params = [*API[resource].get("params", []), *spec.get("params", [])]
    args = {snake(p["name"]): _value(p, i) for i, p in enumerate(params)}
    ok = sorted(c for c in spec["responses"] if c.startswith("2"))[0]
    ref = (spec["responses"][ok].get("schema") or {}).get("$ref")
    schema_name = ref.rsplit("/", 1)[-1] if ref else None

    if spec.get("sseStream"):
        event = next(iter(spec["responses"]["200"]["sseEvents"]))

        async def sse(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            await resp.write(b"event: keepAlive\ndata: 1\n\n")
            await resp.write(f"event: {event}\ndata: {{}}\n\n".encode())
            return resp

        scripted.fallback = sse
    else:

        async def plain(request: web.Request) -> web.StreamResponse:
            body = _reply_for(schema_name)
            return web.Response(status=int(ok), body=body or None, content_type="application/json")

        scripted.fallback = plain

    async with LosantClient("tok", base_url=scripted.url, retry=0) as client:
        method = getattr(getattr(client, snake(resource)), snake(action))
        if spec.get("sseStream"):
            async with method(**args) as stream:
                result = await stream.__anext__()
        else:
            result = await method(**args)

    seen = scripted.seen[0]
    assert seen.method == spec["method"]
    path = API[resource]["path"] + spec.get("path", "")
    for p in params:
        if p["in"] == "path":
            path = path.replace("{" + p["name"] + "}", args[snake(p["name"])])
    assert seen.path == path
    expected_query: list[tuple[str, str]] = []
    if not spec.get("sseStream"):
        expected_query += [("_actions", "false"), ("_links", "true"), ("_embedded", "true")]
    for p in params:
        if p["in"] != "query":
            continue
        value = args[snake(p["name"])]
        if isinstance(value, list) and p.get("type") == "array":
            expected_query += [(f"{p['name']}[{i}]", v) for i, v in enumerate(value)]
        elif "schema" in p and p.get("type") != "object":
            expected_query += _flattened(p["name"], value)
        else:
            expected_query.append((p["name"], _wire(value)))
    assert seen.query == expected_query
    assert seen.headers["Authorization"] == "Bearer tok"
    assert seen.headers["Accept-Version"] == "^1.30.0"
    body_params = [p for p in params if p["in"] == "body"]
    if body_params:
        assert json.loads(seen.body) == args[snake(body_params[0]["name"])]
    multipart = [p for p in params if p["in"] == "multipart"]
    for p in multipart:
        assert f'name="{p["name"]}"'.encode() in seen.body
    if spec.get("sseStream"):
        assert seen.headers["Accept"] == "text/event-stream"
        model = spec["responses"]["200"]["sseEvents"][event]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert isinstance(result, getattr(models, pascal(model)))
    elif schema_name is None:
        assert result is None
    else:
        expected = getattr(models, pascal(schema_name))
        if isinstance(expected, type):
            assert isinstance(result, expected)
        else:
            assert result == msgspec.json.decode(_reply_for(schema_name))
