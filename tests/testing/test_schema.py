"""The built-in validator agrees with jsonschema, and generated values are valid."""

from __future__ import annotations

import functools
import random
from datetime import datetime
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

import jsonschema  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from losant_async.testing._schema import FORMATS, Generator, Schemas
from losant_async.testing._server import shared_schemas
from losant_async.testing._spec import load_api

API = load_api()
SCHEMAS = shared_schemas()
# jsonschema checks no formats unless asked to: the structural cross-check leaves them out.
STRUCTURAL = Schemas(API.schemas, formats=False)
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
    mine = STRUCTURAL.error(API.schemas[name], value, "body")
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


FORMAT_CASES: dict[str, tuple[list[str], list[str]]] = {
    "date-time": (
        [
            "2024-01-31T23:59:59Z",
            "2024-02-29T00:00:00.123456+05:30",
            "1999-12-31t10:00:00z",
            "2016-12-31T23:59:60-01:00",
        ],
        [
            "",
            "2024-01-01",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00Z",
            "2024-01-01T00:00:00",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00+24:00",
            "1704067200000",
            "next tuesday",
        ],
    ),
    "email": (
        ["user@example.com", "first.last+tag@mail.example.co.uk", "a@b.io", "x_y@sub-1.example"],
        [
            "",
            "user",
            "user@",
            "@example.com",
            "user@localhost",
            "a b@example.com",
            "user@-example.com",
            "user@example..com",
            "user@exa_mple.com",
            "üser@example.com",
        ],
    ),
    "uri": (
        [
            "https://example.com/a/b?c=d#e",
            "http://127.0.0.1:8080/",
            "mailto:a@b.io",
            "urn:x:y",
            "https://example.com/%20space",
        ],
        [
            "",
            "/relative/path",
            "example.com",
            "1http://x",
            "https://exa mple.com",
            "https://example.com/%zz",
            "https://example.com/<tag>",
            "https://bücher.example",
        ],
    ),
}


def test_formats_accept_and_reject() -> None:
    assert set(FORMATS) == set(FORMAT_CASES)
    for fmt, (good, bad) in FORMAT_CASES.items():
        assert [v for v in good if not FORMATS[fmt](v)] == [], fmt
        assert [v for v in bad if FORMATS[fmt](v)] == [], fmt


def test_every_format_of_the_request_schemas_is_checked() -> None:
    used: set[str] = set()
    seen: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.split("/")[-1] not in seen:
                seen.add(ref.split("/")[-1])
                walk(API.schemas.get(ref.split("/")[-1]))
            if isinstance(node.get("format"), str):
                used.add(node["format"])
            for sub in node.values():
                walk(sub)
        elif isinstance(node, list):
            for sub in node:
                walk(sub)

    for name in REQUEST_SCHEMAS:
        walk(API.schemas[name])
    assert used == set(FORMATS)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=40), st.from_regex(r"[a-z0-9.@:/%-]{1,30}", fullmatch=True)))
def test_accepted_format_values_satisfy_independent_readers(text: str) -> None:
    """What the validator accepts, the standard library reads as the same kind of value (and
    jsonschema's own email check agrees)."""
    if FORMATS["date-time"](text):
        leap = text[:17] + "59" + text[19:] if text[17:19] == "60" else text
        assert datetime.fromisoformat(leap.upper()).tzinfo is not None
    if FORMATS["email"](text):
        assert parseaddr(text)[1] == text
        assert jsonschema.FormatChecker().conforms(text, "email")
    if FORMATS["uri"](text):
        assert urlsplit(text).scheme == text.partition(":")[0].lower()


def test_format_errors_name_the_field() -> None:
    post = API.schemas["instanceOrgPost"]
    problem = SCHEMAS.error(post, {"name": "x", "disabledAt": "yesterday"}, "orgConfig")
    assert problem is not None and problem.startswith("orgConfig.disabledAt")
    assert SCHEMAS.error(post, {"name": "x", "disabledAt": "2024-01-01T00:00:00Z"}) is None
    me = API.schemas["mePatch"]
    assert SCHEMAS.error(me, {"email": "nobody"}, "user") == "user.email must be a valid email"
    assert STRUCTURAL.error(me, {"email": "nobody"}, "user") is None
    dashboard = {"name": "d", "reportConfigs": [{"cron": "0 0 * * *", "callbackUrl": "x y"}]}
    problem = SCHEMAS.error(API.schemas["dashboardPost"], dashboard, "dashboard")
    assert problem == "dashboard.reportConfigs[0].callbackUrl must be a valid uri"


def test_declared_drops_only_undeclared_properties() -> None:
    schemas = Schemas(
        {
            "base": {"type": "object", "properties": {"a": {"type": "integer"}}},
            "thing": {
                "allOf": [{"$ref": "#/definitions/base"}],
                "properties": {
                    "b": {"type": "array", "items": {"properties": {"c": {}}}},
                    "free": {"type": "object"},
                    "map": {"patternProperties": {"^x": {"properties": {"d": {}}}}},
                    "open": {"properties": {"e": {}}, "additionalProperties": True},
                    "either": {
                        "oneOf": [
                            {"properties": {"s": {"type": "string"}}, "required": ["s"]},
                            {"properties": {"n": {"type": "integer"}}, "required": ["n"]},
                        ]
                    },
                },
            },
        }
    )
    value = {
        "a": 1,
        "z": 0,
        "b": [{"c": 1, "y": 2}],
        "free": {"anything": {"goes": 1}},
        "map": {"x1": {"d": 1, "w": 2}, "other": 3},
        "open": {"e": 1, "more": 2},
        "either": {"n": 1, "s2": "x"},
    }
    assert schemas.declared({"$ref": "#/definitions/thing"}, value) == {
        "a": 1,
        "b": [{"c": 1}],
        "free": {"anything": {"goes": 1}},
        "map": {"x1": {"d": 1}},
        "open": {"e": 1, "more": 2},
        "either": {"n": 1},
    }
    assert schemas.declared({"type": "string"}, "text") == "text"
