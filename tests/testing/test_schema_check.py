"""The compiled validity check (``Schemas.is_valid``) decides exactly what ``Schemas.error``
decides: on every schema node the server ships, for generated values and for values broken
in every way the validator knows, from fixed seeds."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

import pytest

from losant_async.testing._schema import Generator, Schemas
from losant_async.testing._spec import load_api

API = load_api()

LEAVES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    1,
    -1,
    1.5,
    2.0,
    10**13,
    -(10**13),
    float("inf"),
    float("nan"),
    "",
    "x",
    "x" * 300,
    "bad key!",
    "0123456789abcdef01234567",
    "2024-01-01T00:00:00Z",
    "next tuesday",
    "user@example.com",
    "https://example.com/a",
    [],
    [1, 1],
    ["a", "b"],
    {},
    {"name": "x"},
    {"id": "0123456789abcdef01234567", "key": "k"},
)

# What each rule of the validator says when it fails: every one must be hit below.
RULES = {
    "type": " must be of type ",
    "enum": " must be one of: ",
    "required": " is required",
    "closed": " is not an allowed property",
    "pattern": " must match the pattern ",
    "format": " must be a valid ",
    "length": " characters long",
    "items": " items",
    "bounds": " must be (greater|less) than or equal to ",
    "forms": " (does not match any|matches more than one) of the allowed forms",
}


def schema_nodes(node: Any) -> Iterator[Any]:
    """``node`` and every schema inside it (not following ``$ref``)."""
    yield node
    if not isinstance(node, dict):
        return
    for key in ("properties", "patternProperties"):
        subs = node.get(key)
        if isinstance(subs, dict):
            for sub in subs.values():
                yield from schema_nodes(sub)
    for key in ("additionalProperties", "items"):
        sub = node.get(key)
        if isinstance(sub, dict):
            yield from schema_nodes(sub)
        elif isinstance(sub, list):
            for part in sub:
                yield from schema_nodes(part)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key, ()):
            yield from schema_nodes(sub)


def mutate(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """``value`` with one thing wrong (or, by chance, still right) somewhere."""
    roll = rng.random()
    if isinstance(value, dict) and value and roll < 0.85:
        key = rng.choice(sorted(value))
        out = dict(value)
        action = rng.choice(("descend", "descend", "drop", "replace", "add"))
        if action == "descend" and depth < 8:
            out[key] = mutate(value[key], rng, depth + 1)
        elif action == "drop":
            del out[key]
        elif action == "replace":
            out[key] = rng.choice(LEAVES)
        else:
            out[rng.choice(("unexpectedField", "key_1", "$gt"))] = rng.choice(LEAVES)
        return out
    if isinstance(value, list) and value and roll < 0.85:
        action = rng.choice(("descend", "descend", "repeat", "grow", "empty"))
        if action == "descend" and depth < 8:
            i = rng.randrange(len(value))
            return [*value[:i], mutate(value[i], rng, depth + 1), *value[i + 1 :]]
        if action == "repeat":
            return value + value
        if action == "grow":
            return value * 200
        return []
    if isinstance(value, bool) and roll < 0.5:
        return int(value)  # true is not 1
    if isinstance(value, int) and roll < 0.5:
        return rng.choice((bool(value % 2), float(value), value + 0.5, -value - 1, value * 10**9))
    if isinstance(value, str) and roll < 0.6:
        return rng.choice((value + "!", value.upper(), value[:1], value * 40, " " + value))
    return rng.choice(LEAVES)


def cases(schemas: Schemas, node: Any, seed: str, mutations: int, top: bool) -> Iterator[Any]:
    """Values generated for ``node`` (full and minimal at the top of a definition), each
    followed by ``mutations`` broken copies."""
    generator = Generator(schemas)
    rng = random.Random(seed)
    for full in (True, False) if top else (True,):
        value = generator.value(node, random.Random(f"{seed}:{full}"), full=full)
        yield value
        for _ in range(mutations):
            yield mutate(value, rng)


def agree(schemas: Schemas, node: Any, value: Any) -> str | None:
    """The error, after checking that ``is_valid`` agrees with it."""
    problem = schemas.error(node, value)
    assert schemas.is_valid(node, value) == (problem is None), (node, value, problem)
    return problem


@pytest.mark.parametrize("formats", [True, False])
def test_check_agrees_with_error_on_every_schema_the_server_ships(formats: bool) -> None:
    """With formats checked: every definition and every schema inside one; without: every
    definition."""
    schemas = Schemas(API.schemas, formats=formats)  # compiled afresh, in this test
    problems: list[str] = []
    valid = 0
    for name, definition in API.schemas.items():
        nodes = schema_nodes(definition) if formats else iter([definition])
        for n, node in enumerate(nodes):
            for value in cases(schemas, node, f"{name}:{n}", 12 if n == 0 else 1, n == 0):
                problem = agree(schemas, node, value)
                if problem is None:
                    valid += 1
                else:
                    problems.append(problem)
    assert valid > 1_000 and len(problems) > 1_000, (valid, len(problems))
    for rule, words in RULES.items():
        hit = [p for p in problems if re.search(words, p)]
        if rule == "format" and not formats:
            assert hit == [], rule
        else:
            assert hit, rule


SMALL = {
    "id": {"type": "string", "pattern": "^[A-Fa-f\\d]{24}$"},
    "loop": {"$ref": "#/definitions/pool"},
    "pool": {"$ref": "#/definitions/loop"},
    "tree": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 2, "maxLength": 4},
            "kids": {"type": "array", "items": {"$ref": "#/definitions/tree"}, "maxItems": 2},
        },
        "required": ["name"],
        "additionalProperties": False,
    },
    "mixed": {
        "type": ["object", "null"],
        "minProperties": 1,
        "maxProperties": 2,
        "properties": {"n": {"type": "number", "minimum": 0, "maximum": 10}},
        "patternProperties": {"^x": {"type": "integer"}, "^xy": {"enum": [1, "a", None]}},
        "additionalProperties": {"type": "boolean"},
    },
    "forms": {
        "allOf": [{"type": ["string", "integer", "array"]}],
        "anyOf": [{"type": "string", "format": "email"}, {"type": "integer"}, {"items": False}],
        "oneOf": [{"maxLength": 10}, {"minimum": 5}, {"uniqueItems": True}],
    },
    "tuple": {"type": "array", "items": [{"type": "integer"}, {"$ref": "#/definitions/id"}]},
    "literal": {"enum": ["a", 1, True, None, {"k": [1]}, [1, "a"]]},
    "truth": {"properties": {"yes": True, "no": False}, "additionalProperties": True},
    "missing": {"$ref": "#/definitions/nowhere"},
    "odd": {"required": "ab", "properties": [], "enum": ("a", {"a": 1, "b": 2})},
}


class Text(str):
    """A string of a subclass: left to ``error``."""


SMALL_VALUES: tuple[Any, ...] = (
    *LEAVES,
    Text("abc"),
    {"name": "ab"},
    {"name": "ab", "kids": [{"name": "cd"}, {"name": "ef", "kids": [{"name": "g"}]}]},
    {"name": "ab", "kids": [{"name": "cd"}] * 3},
    {"name": "ab", "other": 1},
    {"n": 5},
    {"n": 5.5, "x1": 2},
    {"x1": 2.0},
    {"x1": 2.5},
    {"xy": 1},
    {"xy": True},
    {"xy": "a"},
    {"z": True},
    {"z": 1},
    {"n": -1},
    {"n": 11},
    {"n": True},
    "a@b.io",
    "not an email",
    7,
    3,
    [1, 2],
    [1, 1],
    [1, "0123456789abcdef01234567", "extra"],
    [1, "bad"],
    ["1", "0123456789abcdef01234567"],
    {"k": [1]},
    {"k": [True]},
    [1, "a"],
    [True, "a"],
    {"yes": 1},
    {"no": 1},
    {"a": 1, "b": 2},
)


@pytest.mark.parametrize("formats", [True, False])
def test_check_agrees_with_error_on_every_rule_and_shape(formats: bool) -> None:
    schemas = Schemas(SMALL, formats=formats)
    outcomes: dict[str, set[bool]] = {}
    for name in SMALL:
        for node in (SMALL[name], {"$ref": f"#/definitions/{name}"}, True, False, None, 0):
            for value in SMALL_VALUES:
                outcome = agree(schemas, node, value) is None
                outcomes.setdefault(name, set()).add(outcome)
    assert all(found == {True, False} for name, found in outcomes.items() if name != "missing")


def test_checks_are_compiled_once_per_node() -> None:
    schemas = Schemas(API.schemas)
    org = API.schemas["org"]
    assert schemas.check(org) is schemas.check({"$ref": "#/definitions/org"})
    assert schemas.check(True)("anything") and not schemas.check(False)("anything")
