"""Every action of the description answers its example arguments with a valid 2xx body."""

from __future__ import annotations

import asyncio
import functools
import random
from typing import Any

import aiohttp
import jsonschema  # type: ignore[import-untyped]
import pytest

from losant_async.testing import FakeLosant, encode_request
from losant_async.testing._schema import Generator
from losant_async.testing._server import shared_schemas
from losant_async.testing._spec import load_api

from .fakehttp import call, read_event

pytestmark = pytest.mark.anyio

API = load_api()
ACTIONS = sorted(API.actions)
GENERATOR = Generator(shared_schemas())


@functools.cache
def validator(schema_name: str) -> jsonschema.Draft7Validator:
    root = {"$ref": f"#/definitions/{schema_name}", "definitions": API.schemas}
    return jsonschema.Draft7Validator(
        root, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def schema_errors(schema_name: str, value: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in validator(schema_name).iter_errors(value)
    ]


def test_the_description_has_all_actions() -> None:
    assert len(API.actions) == 375
    assert sum(1 for a in API.actions.values() if a.is_stream) == 3
    assert sum(1 for a in API.actions.values() if a.params_in("multipart")) == 5


@pytest.mark.parametrize("qualname", ACTIONS)
async def test_example_args_succeed(
    qualname: str, server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    action = API.actions[qualname]
    args = server.example_args(qualname)
    for p in action.params:
        if p.required and p.location != "header":
            assert p.name in args, f"{p.name} missing from example args"
    if action.is_stream:
        args["keepAliveInterval"] = "0.05"
        req = encode_request(qualname, args)
        async with http.get(req.path, params=req.query) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/event-stream"
            event = await asyncio.wait_for(read_event(resp, keepalives=True), 2)
            assert event is not None and event.event == "keepAlive"
        return
    result = await call(http, qualname, args)
    assert 200 <= result.status < 300, (result.status, result.body)
    assert result.status == action.success_status
    schema = action.success_schema
    if schema is None:
        assert result.raw == b""
        return
    assert result.headers["Content-Type"].startswith("application/json")
    assert schema_errors(schema, result.body) == []


WRITES = [
    ("instanceOrgs.post", "orgConfig"),
    ("orgs.post", "organization"),
    ("applications.post", "application"),
    ("devices.post", "device"),
    ("instanceOrg.patch", "organization"),
    ("org.patch", "organization"),
    ("application.patch", "application"),
    ("device.patch", "device"),
]
# IDs in generated bodies would point at objects that do not exist.
UNRESOLVABLE = ("orgId", "gatewayId", "parentId", "applicationTemplateId")


@pytest.mark.parametrize(("qualname", "param"), WRITES)
async def test_stored_objects_written_with_full_bodies_stay_valid(
    qualname: str, param: str, server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    action = API.actions[qualname]
    schema = action.body_param.schema if action.body_param else None
    assert schema is not None
    for seed in range(3):
        args = server.example_args(qualname)
        body = GENERATOR.value(API.schemas[schema], random.Random(seed))
        for key in UNRESOLVABLE:
            body.pop(key, None)
        args[param] = body
        result = await call(http, qualname, args)
        assert result.status == action.success_status, result.body
        assert schema_errors(action.success_schema or "", result.body) == []
        if "name" in body:
            assert result.body["name"] == body["name"]


LISTS = [
    "instanceOrgs.get",
    "orgs.get",
    "applications.get",
    "devices.get",
    "instanceSandboxes.get",
    "instance.historicalSummaries",
]


@pytest.mark.parametrize("qualname", LISTS)
async def test_stored_collections_stay_valid(
    qualname: str, server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    action = API.actions[qualname]
    field = next(p for p in action.params if p.name == "filterField")
    assert field.enum is not None
    for sort in next(p for p in action.params if p.name == "sortField").enum or ():
        extra = {"sortField": str(sort), "filterField": str(field.enum[0]), "filter": "*"}
        result = await call(http, qualname, server.example_args(qualname), **extra)
        assert result.status == 200
        assert result.body["items"]
        assert schema_errors(action.success_schema or "", result.body) == []
