"""The built-in validator agrees with jsonschema, and generated values are valid."""

from __future__ import annotations

import functools
import random
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from losant_async.testing._schema import Generator
from losant_async.testing._server import shared_schemas
from losant_async.testing._spec import load_api

API = load_api()
SCHEMAS = shared_schemas()
GENERATOR = Generator(SCHEMAS)
REQUEST_SCHEMAS = sorted({p.schema for a in API.actions.values() for p in a.params if p.schema})

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2**40),
    st.floats(-1e6, 1e6, allow_nan=False),
    st.text(max_size=4),
    st.just("x" * 300),
    st.just("0123456789abcdef01234567"),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.sampled_from(["name", "zzz", "id"]), st.text(max_size=3), max_size=2),
)


@functools.cache
def reference(name: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator({"$ref": f"#/definitions/{name}", "definitions": API.schemas})


def mutate(value: Any, data: st.DataObject) -> Any:
    """Replace, drop or add one thing somewhere in ``value``."""
    if isinstance(value, dict) and value and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(value)))
        action = data.draw(st.sampled_from(["descend", "drop", "replace", "add"]))
        out = dict(value)
        if action == "descend":
            out[key] = mutate(value[key], data)
        elif action == "drop":
            del out[key]
        elif action == "replace":
            out[key] = data.draw(LEAVES)
        else:
            out["unexpectedField"] = data.draw(LEAVES)
        return out
    if isinstance(value, list) and value and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(value) - 1))
        out_list = list(value)
        if data.draw(st.booleans()):
            out_list[i] = mutate(value[i], data)
        else:
            out_list.extend(value * 200)
        return out_list
    return data.draw(LEAVES)


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_validator_agrees_with_jsonschema(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(REQUEST_SCHEMAS))
    seed = data.draw(st.integers(0, 10_000))
    value = GENERATOR.value(API.schemas[name], random.Random(seed), full=data.draw(st.booleans()))
    if data.draw(st.booleans()):
        value = mutate(value, data)
    mine = SCHEMAS.error(API.schemas[name], value, "body")
    theirs = reference(name).is_valid(value)
    assert (mine is None) == theirs, (name, value, mine)


def test_generated_values_of_every_schema_are_valid() -> None:
    for name in API.schemas:
        for full in (True, False):
            value = GENERATOR.value(API.schemas[name], random.Random(name), full=full)
            errors = [e.message[:120] for e in reference(name).iter_errors(value)]
            assert errors == [], (name, full)
            assert SCHEMAS.error(API.schemas[name], value) is None


def test_error_messages_name_the_field() -> None:
    schema = API.schemas["instanceOrgPost"]
    assert SCHEMAS.error(schema, {}, "orgConfig") == "orgConfig.name is required"
    problem = SCHEMAS.error(schema, {"name": "x", "limits": {"member": -1}}, "orgConfig")
    assert problem is not None and problem.startswith("orgConfig.limits.member")
    problem = SCHEMAS.error(schema, {"name": "x", "bogus": 1}, "orgConfig")
    assert problem == "orgConfig.bogus is not an allowed property"
