"""A validator and a value generator for the subset of JSON Schema (draft-07) the API uses."""

from __future__ import annotations

import functools
import math
import random
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from .._encoding import _pattern as js_pattern

JSON = Any
Check = Callable[[JSON], bool]
"""Whether a value is valid against one schema node."""

# Objects deeper than this get only their required properties, and arrays only minItems.
FULL_DEPTH = 3
# Past this depth recursion (self-referencing query schemas) stops outright.
MAX_DEPTH = 10

_REF_PREFIX = "#/definitions/"
_HEX = "0123456789abcdef"


# Python types by JSON type; bool before int, as a bool is an int.
_JSON_TYPES = (
    (type(None), "null"),
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


_AT_MOST = {"at least": "at most", "greater than": "less than"}


def _bounds(schema: dict[str, JSON], measure: float, key: str, name: str, rule: str) -> str | None:
    """The problem when ``measure`` is outside ``min<key>``..``max<key>`` of ``schema``;
    ``rule`` words the lower bound (``"be at least {} items"``), the upper is its mirror."""
    low, high = schema.get(f"min{key}"), schema.get(f"max{key}")
    if low is not None and measure < low:
        return f"{name} must {rule.format(low)}"
    if high is not None and measure > high:
        upper = rule
        for lower, mirror in _AT_MOST.items():
            upper = upper.replace(lower, mirror)
        return f"{name} must {upper.format(high)}"
    return None


def _json_type(value: JSON) -> str:
    return next(
        (name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__
    )


def _is_type(value: JSON, name: str) -> bool:
    actual = _json_type(value)
    if actual == name:
        return True
    if name == "number":
        return actual == "integer"
    if name == "integer":
        return actual == "number" and math.isfinite(value) and float(value).is_integer()
    return False


def _json_equal(a: JSON, b: JSON) -> bool:
    """Equality as JSON sees it: ``true`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    ta, tb = _json_type(a), _json_type(b)
    if ta in ("integer", "number") and tb in ("integer", "number"):
        return bool(a == b)
    return ta == tb and bool(a == b)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


# -- formats -------------------------------------------------------------------------------

# RFC 3339 ``date-time``: a full date, ``T``, a full time with seconds and a zone.
_DATE_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:[Zz]|[+-](\d\d):(\d\d))",
    re.ASCII,
)
# An address ``local@domain``: dot-atom characters, then two or more DNS labels.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"[A-Za-z0-9!#$%&'*+/=?^_`{{|}}~.-]+@(?:{_LABEL}\.)+{_LABEL}")
# RFC 3986 absolute URI: a scheme, ``:``, then URI characters and %-escapes only.
_URI = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*:(?:[\w\-.~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*", re.ASCII
)


@functools.lru_cache(maxsize=1 << 12, typed=True)  # stored dates are checked in every answer
def is_date_time(text: str) -> bool:
    m = _DATE_TIME.fullmatch(text)
    if m is None:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    zone_h, zone_m = (int(g or 0) for g in m.groups()[6:])
    try:
        datetime(year, month, day)
    except ValueError:
        return False
    return hour < 24 and minute < 60 and second <= 60 and zone_h < 24 and zone_m < 60


def is_email(text: str) -> bool:
    return len(text) <= 254 and _EMAIL.fullmatch(text) is not None


def is_uri(text: str) -> bool:
    return _URI.fullmatch(text) is not None


FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": is_date_time,
    "email": is_email,
    "uri": is_uri,
}
"""The string formats the API's request schemas use, as checked (others pass)."""


class Schemas:
    """The named schemas of the API, with ``#/definitions/NAME`` references between them."""

    def __init__(self, definitions: Mapping[str, JSON], *, formats: bool = True) -> None:
        self._defs = definitions
        self._regex: dict[str, re.Pattern[str]] = {}
        self.formats = formats
        # Compiled checks by the identity of the (resolved) schema node, with the node kept
        # so that its id is never reused while the entry lives.
        self._checks: dict[int, tuple[JSON, Check]] = {}

    def __getitem__(self, name: str) -> JSON:
        return self._defs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._defs

    def resolve(self, schema: JSON) -> JSON:
        """Follow ``$ref`` until a schema without one."""
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 32:
            ref = schema["$ref"]
            name = ref[len(_REF_PREFIX) :] if ref.startswith(_REF_PREFIX) else ref
            schema = self._defs.get(name, {})
            seen += 1
        return schema

    def regex(self, pattern: str) -> re.Pattern[str]:
        """The API's (JavaScript) ``pattern`` as the client compiles it: ``$`` is the very
        end, ``\\d`` takes ASCII digits only."""
        compiled = self._regex.get(pattern)
        if compiled is None:
            compiled = self._regex[pattern] = js_pattern(pattern)
        return compiled

    def declared(self, schema: JSON, value: JSON) -> JSON:
        """``value`` without the object properties ``schema`` does not declare. Objects that
        list ``properties`` keep only those, pattern properties and, where
        ``additionalProperties`` is ``true`` or a schema, the rest; free-form objects stay
        whole."""
        if not isinstance(value, dict | list):
            return value
        parts = self._parts(schema, value)
        if isinstance(value, list):
            items = next((p["items"] for p in parts if isinstance(p.get("items"), dict)), None)
            return value if items is None else [self.declared(items, v) for v in value]
        props: dict[str, JSON] = {}
        patterns: dict[str, JSON] = {}
        extra: JSON = None
        for part in parts:
            props.update(part.get("properties") or {})
            patterns.update(part.get("patternProperties") or {})
            more = part.get("additionalProperties")
            if more is True or isinstance(more, dict):
                extra = more if isinstance(more, dict) else {}
        if not props and not patterns:
            return value
        out: dict[str, JSON] = {}
        for key, item in value.items():
            if key in props:
                sub = props[key]
            else:
                found = (s for p, s in patterns.items() if self.regex(p).search(key))
                sub = next(found, extra)
            if sub is not None:
                out[key] = self.declared(sub, item)
        return out

    def _parts(self, schema: JSON, value: JSON) -> list[dict[str, JSON]]:
        """``schema`` and what of it applies to ``value``: its ``allOf`` parts and the first
        ``oneOf``/``anyOf`` variant ``value`` matches."""
        node = self.resolve(schema)
        if not isinstance(node, dict):
            return []
        parts = [node]
        for sub in node.get("allOf", ()):
            parts += self._parts(sub, value)
        for key in ("oneOf", "anyOf"):
            for sub in node.get(key, ()):
                if self.is_valid(sub, value):
                    parts += self._parts(sub, value)
                    break
        return parts

    # -- validation ------------------------------------------------------------------------

    def is_valid(self, schema: JSON, value: JSON) -> bool:
        """``error(schema, value) is None``, from a check compiled once per schema node."""
        return self.check(schema)(value)

    def check(self, schema: JSON) -> Check:
        """A function telling whether a value is valid against ``schema``: what
        :meth:`error` decides, without building its messages."""
        node = self.resolve(schema)
        if not isinstance(node, dict):
            return _invalid if node is False else _valid
        if "$ref" in node:  # a cycle of bare references, cut short by resolve()
            return lambda value: self.error(schema, value) is None
        found = self._checks.get(id(node))
        if found is not None and found[0] is node:
            return found[1]
        if len(self._checks) >= _MAX_CHECKS:
            self._checks.clear()  # schemas made on the fly, not the API's: start over
        made = _Compiler(self).node(node)
        self._checks[id(node)] = (node, made)
        return made

    def error(self, schema: JSON, value: JSON, where: str = "") -> str | None:
        """The first problem of ``value`` against ``schema``, naming the field; None if valid."""
        schema = self.resolve(schema)
        if schema is True or not isinstance(schema, dict):
            return None if schema is not False else f"{where or 'value'} is not allowed"
        name = where or "value"
        types = schema.get("type")
        if types is not None:
            options = types if isinstance(types, list) else [types]
            if not any(_is_type(value, t) for t in options):
                return f"{name} must be of type {' or '.join(options)}"
        enum = schema.get("enum")
        if enum is not None and not any(_json_equal(value, e) for e in enum):
            return f"{name} must be one of: {', '.join(_show(e) for e in enum)}"
        if isinstance(value, str):
            problem = self._string_error(schema, value, name)
        elif isinstance(value, bool):
            problem = None
        elif isinstance(value, (int, float)):
            problem = self._number_error(schema, value, name)
        elif isinstance(value, list):
            problem = self._array_error(schema, value, where, name)
        elif isinstance(value, dict):
            problem = self._object_error(schema, value, where, name)
        else:
            problem = None
        if problem is not None:
            return problem
        return self._combinator_error(schema, value, where, name)

    def _string_error(self, schema: dict[str, JSON], value: str, name: str) -> str | None:
        problem = _bounds(schema, len(value), "Length", name, "be at least {} characters long")
        if problem is not None:
            return problem
        pattern = schema.get("pattern")
        if pattern is not None and not self.regex(pattern).search(value):
            return f"{name} must match the pattern {pattern}"
        fmt = schema.get("format")
        if self.formats and fmt in FORMATS and not FORMATS[fmt](value):
            return f"{name} must be a valid {fmt}"
        return None

    @staticmethod
    def _number_error(schema: dict[str, JSON], value: float, name: str) -> str | None:
        return _bounds(schema, value, "imum", name, "be greater than or equal to {}")

    def _array_error(
        self, schema: dict[str, JSON], value: list[JSON], where: str, name: str
    ) -> str | None:
        problem = _bounds(schema, len(value), "Items", name, "have at least {} items")
        if problem is not None:
            return problem
        items = schema.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                problem = self.error(items, item, f"{name}[{i}]")
                if problem is not None:
                    return problem
        elif isinstance(items, list):
            for i, (item, sub) in enumerate(zip(value, items, strict=False)):
                problem = self.error(sub, item, f"{name}[{i}]")
                if problem is not None:
                    return problem
        if schema.get("uniqueItems"):
            for i, item in enumerate(value):
                if any(_json_equal(item, other) for other in value[:i]):
                    return f"{name} must not contain duplicate items"
        return None

    def _object_error(
        self, schema: dict[str, JSON], value: dict[str, JSON], where: str, name: str
    ) -> str | None:
        for key in schema.get("required", ()):
            if key not in value:
                return f"{_join(where, key)} is required"
        low = schema.get("minProperties")
        if low is not None and len(value) < low:
            return f"{name} must have at least {low} properties"
        high = schema.get("maxProperties")
        if high is not None and len(value) > high:
            return f"{name} must have at most {high} properties"
        props: dict[str, JSON] = schema.get("properties", {})
        patterns: dict[str, JSON] = schema.get("patternProperties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            here = _join(where, key)
            matched = False
            if key in props:
                matched = True
                problem = self.error(props[key], item, here)
                if problem is not None:
                    return problem
            for pattern, sub in patterns.items():
                if self.regex(pattern).search(key):
                    matched = True
                    problem = self.error(sub, item, here)
                    if problem is not None:
                        return problem
            if not matched:
                if extra is False:
                    return f"{here} is not an allowed property"
                if isinstance(extra, dict):
                    problem = self.error(extra, item, here)
                    if problem is not None:
                        return problem
        return None

    def _combinator_error(
        self, schema: dict[str, JSON], value: JSON, where: str, name: str
    ) -> str | None:
        for sub in schema.get("allOf", ()):
            problem = self.error(sub, value, where)
            if problem is not None:
                return problem
        any_of = schema.get("anyOf")
        if any_of is not None:
            problems = [self.error(sub, value, where) for sub in any_of]
            if all(p is not None for p in problems):
                return _best(self, any_of, value, problems, name)
        one_of = schema.get("oneOf")
        if one_of is not None:
            problems = []
            matches = 0
            for sub in one_of:
                problem = self.error(sub, value, where)
                problems.append(problem)
                if problem is None:
                    matches += 1
                    if matches > 1:
                        return f"{name} matches more than one of the allowed forms"
            if matches == 0:
                return _best(self, one_of, value, problems, name)
        return None


def _best(
    schemas: Schemas, options: list[JSON], value: JSON, problems: list[str | None], name: str
) -> str:
    """The most telling error of a failed ``oneOf``/``anyOf``: that of a variant of the
    value's own type, else a general one."""
    for sub, problem in zip(options, problems, strict=True):
        types = schemas.resolve(sub).get("type") if isinstance(sub, dict) else None
        options_t = types if isinstance(types, list) else [types]
        if problem is not None and any(t and _is_type(value, t) for t in options_t):
            return problem
    return f"{name} does not match any of the allowed forms"


def _show(value: JSON) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


# -- compiled checks -----------------------------------------------------------------------

# More compiled nodes than the API's schemas hold (about 39,000 objects).
_MAX_CHECKS = 1 << 17
# What error() reads of a schema besides its type.
_CONSTRAINTS = frozenset(
    (
        "enum", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
        "minItems", "maxItems", "items", "uniqueItems", "required", "minProperties",
        "maxProperties", "properties", "patternProperties", "additionalProperties",
        "allOf", "anyOf", "oneOf",
    )
)  # fmt: skip
# JSON type names of the exact Python types; values of subclasses are left to ``error``.
_TYPE_NAMES: dict[type, str] = {kind: name for kind, name in _JSON_TYPES}


def _valid(value: JSON) -> bool:
    return True


def _invalid(value: JSON) -> bool:
    return False


class _Unusual(Exception):
    """A schema node of a shape the compiler does not take: ``error`` checks it instead."""


class _Compiler:
    """Builds the check of one schema node: the same rules, in the same order, as
    :meth:`Schemas.error`. Sub-schemas are compiled on first use (schemas refer to
    themselves), each by a stub that puts its check in its own place."""

    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas

    def node(self, node: dict[str, JSON]) -> Check:
        schemas = self.schemas

        def by_error(value: JSON) -> bool:
            return schemas.error(node, value) is None

        try:
            return self._node(node, by_error)
        except _Unusual:
            return by_error

    def _node(self, node: dict[str, JSON], by_error: Check) -> Check:
        types = node.get("type")
        allowed: frozenset[type] | None = None  # exact types taken; None: any
        integral = False
        if types is not None:
            options = tuple(types) if isinstance(types, list) else (types,)
            if not all(isinstance(t, str) for t in options):
                raise _Unusual
            # _is_type: a "number" takes integers too, an "integer" whole floats too.
            allowed = frozenset(k for k, name in _TYPE_NAMES.items() if name in options)
            if "number" in options:
                allowed |= {int}
            integral = "integer" in options
        enum = node.get("enum")
        enum_ok = None if enum is None else _enum_check(enum)
        branches: dict[type, Check] = {}
        for kinds, make in (
            ((str,), self._string),
            ((int, float), self._number),
            ((list,), self._array),
            ((dict,), self._object),
        ):
            made = make(node)
            if made is not None:
                branches.update(dict.fromkeys(kinds, made))
        post = self._combinators(node)
        if enum_ok is None and not post and not branches:
            if allowed is None:
                return _valid  # nothing to check: error() finds nothing in any value

            def leaf(value: JSON) -> bool:  # most nodes: {"type": "integer"}
                kind = type(value)
                if kind in allowed:
                    return True
                if kind in _TYPE_NAMES:
                    return integral and kind is float and _whole(value)
                return by_error(value)

            return leaf

        if enum_ok is None and not post and allowed is not None:

            def typed(value: JSON) -> bool:  # a type and what a value of it must satisfy
                kind = type(value)
                if kind not in allowed:
                    if kind not in _TYPE_NAMES:
                        return by_error(value)
                    if not (integral and kind is float and _whole(value)):
                        return False
                branch = branches.get(kind)
                return branch is None or branch(value)

            return typed

        def check(value: JSON) -> bool:
            kind = type(value)
            if kind not in _TYPE_NAMES:
                return by_error(value)
            if allowed is not None and kind not in allowed:
                if not (integral and kind is float and _whole(value)):
                    return False
            if enum_ok is not None and not enum_ok(value):
                return False
            branch = branches.get(kind)
            if branch is not None and not branch(value):
                return False
            for sub in post:
                if not sub(value):
                    return False
            return True

        return check

    def _slots(self, subs: list[JSON]) -> list[Check]:
        """Checks of ``subs``, each a stub until first called."""
        schemas = self.schemas
        slots: list[Check] = []
        for i, sub in enumerate(subs):

            def first(value: JSON, i: int = i, sub: JSON = sub) -> bool:
                made = slots[i] = schemas.check(sub)
                return made(value)

            slots.append(first)
        return slots

    def _table(self, subs: dict[str, JSON]) -> dict[str, Check]:
        """Checks of the named ``subs``, each a stub until first called."""
        schemas = self.schemas
        table: dict[str, Check] = {}
        for key, sub in subs.items():

            def first(value: JSON, key: str = key, sub: JSON = sub) -> bool:
                made = table[key] = schemas.check(sub)
                return made(value)

            table[key] = first
        return table

    def _leaf_types(self, sub: JSON) -> frozenset[type]:
        """The exact types of value ``sub`` takes on their type alone (it constrains
        nothing else); empty when it is not such a leaf."""
        node = self.schemas.resolve(sub)
        if not isinstance(node, dict) or "$ref" in node or not _CONSTRAINTS.isdisjoint(node):
            return frozenset()
        types = node.get("type")
        options = tuple(types) if isinstance(types, list) else (types,)
        if types is None or not all(isinstance(t, str) for t in options):
            return frozenset()
        allowed = frozenset(k for k, name in _TYPE_NAMES.items() if name in options)
        return allowed | {int} if "number" in options else allowed

    def _search(self, pattern: JSON) -> Callable[[str], object]:
        if not isinstance(pattern, str):
            raise _Unusual
        try:
            return self.schemas.regex(pattern).search
        except Exception:  # error() raises it only for values that reach the pattern
            raise _Unusual from None

    def _string(self, node: dict[str, JSON]) -> Check | None:
        low, high = node.get("minLength"), node.get("maxLength")
        pattern, fmt = node.get("pattern"), node.get("format")
        if low is None and high is None and pattern is None and fmt is None:
            return None
        search = None if pattern is None else self._search(pattern)
        if fmt is not None and not isinstance(fmt, str):
            raise _Unusual
        schemas = self.schemas

        def check(value: str) -> bool:
            size = len(value)
            if low is not None and size < low:
                return False
            if high is not None and size > high:
                return False
            if search is not None and not search(value):
                return False
            if fmt is not None and schemas.formats and fmt in FORMATS:
                return FORMATS[fmt](value)
            return True

        return check

    @staticmethod
    def _number(node: dict[str, JSON]) -> Check | None:
        low, high = node.get("minimum"), node.get("maximum")
        if low is None and high is None:
            return None

        def check(value: float) -> bool:
            if low is not None and value < low:
                return False
            return not (high is not None and value > high)

        return check

    def _array(self, node: dict[str, JSON]) -> Check | None:
        low, high = node.get("minItems"), node.get("maxItems")
        items, unique = node.get("items"), node.get("uniqueItems")
        each = self._slots([items]) if isinstance(items, dict) else None
        by_place = self._slots(items) if isinstance(items, list) else None
        if low is None and high is None and each is None and by_place is None and not unique:
            return None

        def check(value: list[JSON]) -> bool:
            size = len(value)
            if low is not None and size < low:
                return False
            if high is not None and size > high:
                return False
            if each is not None:
                for item in value:
                    if not each[0](item):
                        return False
            elif by_place is not None:
                for item, sub in zip(value, by_place, strict=False):
                    if not sub(item):
                        return False
            if unique:
                for i, item in enumerate(value):
                    if any(_json_equal(item, other) for other in value[:i]):
                        return False
            return True

        return check

    def _object(self, node: dict[str, JSON]) -> Check | None:
        required, props = node.get("required", ()), node.get("properties", {})
        patterns, extra = node.get("patternProperties", {}), node.get("additionalProperties", True)
        low, high = node.get("minProperties"), node.get("maxProperties")
        if not isinstance(required, list | tuple):
            raise _Unusual
        if not isinstance(props, dict) or not isinstance(patterns, dict):
            raise _Unusual
        closed = extra is False
        more = self._slots([extra]) if isinstance(extra, dict) else None
        if not (required or props or patterns or closed or more) and low is None and high is None:
            return None
        needed = tuple(required)
        table = self._table(props)
        get = table.get
        # Properties whose value of one of these types is valid, without calling a check.
        leaves = {key: kinds for key, sub in props.items() if (kinds := self._leaf_types(sub))}
        leaf_types = leaves.get
        searches = [self._search(p) for p in patterns]
        by_pattern = self._slots(list(patterns.values()))

        def check(value: dict[str, JSON]) -> bool:
            for key in needed:
                if key not in value:
                    return False
            if low is not None and len(value) < low:
                return False
            if high is not None and len(value) > high:
                return False
            for key, item in value.items():
                sub = get(key)
                if sub is not None and not sub(item):
                    return False
                matched = sub is not None
                for i, search in enumerate(searches):
                    if search(key):
                        matched = True
                        if not by_pattern[i](item):
                            return False
                if not matched:
                    if closed:
                        return False
                    if more is not None and not more[0](item):
                        return False
            return True

        if not (props or needed) and low is None and high is None and list(patterns) == [".*"]:
            # A map (payload counts by source): ".*" finds a match in every string key.
            each = by_pattern
            kinds = self._leaf_types(patterns[".*"])

            def map_check(value: dict[str, JSON]) -> bool:
                for key, item in value.items():
                    if type(key) is not str:
                        return check(value)
                    if type(item) not in kinds and not each[0](item):
                        return False
                return True

            return map_check
        if searches or closed or more is not None:
            return check

        def open_check(value: dict[str, JSON]) -> bool:  # the common case, without patterns
            for key in needed:
                if key not in value:
                    return False
            if low is not None and len(value) < low:
                return False
            if high is not None and len(value) > high:
                return False
            for key, item in value.items():
                kinds = leaf_types(key)
                if kinds is not None and type(item) in kinds:
                    continue
                sub = get(key)
                if sub is not None and not sub(item):
                    return False
            return True

        return open_check

    def _combinators(self, node: dict[str, JSON]) -> list[Check]:
        found: list[Check] = []
        all_of, any_of, one_of = node.get("allOf", ()), node.get("anyOf"), node.get("oneOf")
        for subs in (all_of, any_of, one_of):
            if subs is not None and not isinstance(subs, list | tuple):
                raise _Unusual
        if all_of:
            every = self._slots(list(all_of))
            found.append(lambda value: all(sub(value) for sub in every))
        if any_of is not None:
            some = self._slots(list(any_of))
            found.append(lambda value: any(sub(value) for sub in some))
        if one_of is not None:
            one = self._slots(list(one_of))

            def exactly_one(value: JSON) -> bool:
                matches = 0
                for sub in one:
                    if sub(value):
                        matches += 1
                        if matches > 1:
                            return False
                return matches == 1

            found.append(exactly_one)
        return found


def _whole(value: float) -> bool:
    return math.isfinite(value) and float(value).is_integer()


def _enum_check(enum: JSON) -> Check:
    if not isinstance(enum, list | tuple):
        raise _Unusual
    options = list(enum)
    # A string equals (as JSON) only the strings equal to it.
    strings = frozenset(e for e in options if isinstance(e, str))

    def check(value: JSON) -> bool:
        if type(value) is str:
            return value in strings
        return any(_json_equal(value, e) for e in options)

    return check


# -- generation ----------------------------------------------------------------------------

_KNOWN_PATTERNS: dict[str, str] = {
    r"^[A-Fa-f\d]{24}$": "<id>",
    r"^([A-Fa-f\d]{24}|)$": "<id>",
    r"^[0-9a-zA-Z_-]{1,255}$": "<key>",
    r"^[0-9a-zA-Z_-]{1,255}": "<key>",
    r"^(?!\.{1,2}$)[0-9a-zA-Z_.-]{1,255}$": "<key>",
    r"^[A-Za-z0-9_-]+$": "<key>",
    r".*{{.+}}.*": "{{ data.value }}",
    r"^(0|([1-9]\d*))\.(0|([1-9]\d*))\.(0|([1-9]\d*))$": "1.0.0",
    r"^data:image/(jpg|jpeg|png|svg\+xml);base64,[0-9a-zA-Z+/=]*$": "data:image/png;base64,AAAA",
    r"^[0-9a-z-]*$": "my-slug",
    r"^(?=.*[A-Z])(?=.*[^A-Za-z0-9])(?=.*[0-9])(?=.*[a-z]).{12,}$": "Secret-Passw0rd",
    r"^.{1,255}$": "<key>",
    r".*": "<key>",
    r"^.*$": "<key>",
}
_FALLBACKS = ("value", "a", "0", "key_1", "a-b", "1.0.0", "000000000000000000000000", "")


def hex_id(rng: random.Random) -> str:
    """24 hex digits, like the API's object IDs."""
    return "".join(rng.choice(_HEX) for _ in range(24))


class Generator:
    """Produces values that satisfy a schema, deterministically from a ``random.Random``."""

    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas

    def value(
        self,
        schema: JSON,
        rng: random.Random,
        *,
        full: bool = True,
        depth: int = 0,
        hint: str = "",
        fill: bool = False,
    ) -> JSON:
        """A value valid against ``schema``.

        ``full`` fills optional properties too (down to ``FULL_DEPTH``), so that models of
        every field get exercised; otherwise only what is required. ``fill`` fills this one
        level whatever the depth (to tell ``oneOf`` variants apart).
        """
        node = self.schemas.resolve(schema)
        if not isinstance(node, dict):
            return "value"
        if "allOf" in node:
            node = self._merge_all(node)
        for key in ("oneOf", "anyOf"):
            if key in node:
                return self._choose(node, key, rng, full=full, depth=depth, hint=hint)
        if "enum" in node:
            return rng.choice(node["enum"])
        types = node.get("type")
        if isinstance(types, list):
            non_null = [t for t in types if t != "null"]
            kind = non_null[0] if non_null else "null"
        elif types is None:
            kind = _implied_type(node)
        else:
            kind = types
        if kind == "object":
            return self._object(node, rng, full=full, depth=depth, fill=fill)
        if kind == "array":
            return self._array(node, rng, full=full, depth=depth, hint=hint)
        if kind == "string":
            return self.string(node, rng, hint=hint)
        if kind == "integer":
            return self._integer(node, rng)
        if kind == "number":
            return self._integer(node, rng)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "null":
            return None
        return f"{hint or 'value'}"

    def _merge_all(self, node: dict[str, JSON]) -> dict[str, JSON]:
        merged: dict[str, JSON] = {k: v for k, v in node.items() if k != "allOf"}
        for sub in node["allOf"]:
            part = self.schemas.resolve(sub)
            if not isinstance(part, dict):
                continue
            for key, val in part.items():
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **val}
                elif key == "required":
                    merged["required"] = [*merged.get("required", []), *val]
                else:
                    merged.setdefault(key, val)
        return merged

    def _choose(
        self, node: dict[str, JSON], key: str, rng: random.Random, *, full: bool, depth: int,
        hint: str,
    ) -> JSON:  # fmt: skip
        base = {k: v for k, v in node.items() if k != key}
        fallback: JSON = None
        # Variants often differ only in optional fields: try as asked, then with this level
        # filled, then minimal, until the value matches exactly one variant.
        tries = ((full, False), (full, True), (False, False))
        for variant in node[key]:
            part = self.schemas.resolve(variant)
            merged = {**base, **part} if isinstance(part, dict) else base
            if "type" in base and isinstance(part, dict) and "type" in part:
                merged["type"] = part["type"]
            for as_full, fill in tries:
                candidate = self.value(merged, rng, full=as_full, depth=depth, hint=hint, fill=fill)
                if self.schemas.is_valid(node, candidate):
                    return candidate
                if fallback is None:
                    fallback = candidate
        return fallback

    def _object(
        self, node: dict[str, JSON], rng: random.Random, *, full: bool, depth: int, fill: bool
    ) -> dict[str, JSON]:
        props: dict[str, JSON] = node.get("properties", {})
        required: list[str] = list(node.get("required", []))
        limit = node.get("maxProperties", 1 << 30)
        out: dict[str, JSON] = {}
        deep = depth >= MAX_DEPTH
        fill = fill or (full and depth < FULL_DEPTH)
        for key in required:
            if len(out) >= limit:
                break
            sub = props.get(key, {})
            out[key] = self.value(sub, rng, full=full and not deep, depth=depth + 1, hint=key)
        if fill:
            for key, sub in props.items():
                if len(out) >= limit:
                    break
                if key not in out:
                    out[key] = self.value(sub, rng, full=full, depth=depth + 1, hint=key)
        patterns: dict[str, JSON] = node.get("patternProperties", {})
        wanted = node.get("minProperties", 0)
        if patterns and fill and not props:
            wanted = max(wanted, 1)
        i = 0
        while patterns and len(out) < min(wanted, limit) and i < 50:
            pattern, sub = next(iter(patterns.items()))
            key = self._pattern_key(pattern, i)
            if key not in out:
                out[key] = self.value(sub, rng, full=full, depth=depth + 1, hint=key)
            i += 1
        return out

    def _pattern_key(self, pattern: str, i: int) -> str:
        for candidate in (f"key{i}", f"key_{i}", f"k{i}", hex_id(random.Random(i))):
            if self.schemas.regex(pattern).search(candidate):
                return candidate
        return f"key{i}"

    def _array(
        self, node: dict[str, JSON], rng: random.Random, *, full: bool, depth: int, hint: str
    ) -> list[JSON]:
        low = node.get("minItems", 0)
        high = node.get("maxItems", 1 << 30)
        count = max(low, 1 if full and depth < FULL_DEPTH else 0)
        count = min(count, high)
        items = node.get("items", {})
        if isinstance(items, list):
            return [self.value(sub, rng, full=full, depth=depth + 1) for sub in items[:count]]
        out: list[JSON] = []
        tries = 0
        while len(out) < count and tries < count * 5 + 5:
            tries += 1
            item = self.value(items, rng, full=full, depth=depth + 1, hint=hint)
            if node.get("uniqueItems") and any(_json_equal(item, o) for o in out):
                continue
            out.append(item)
        return out

    @staticmethod
    def _integer(node: dict[str, JSON], rng: random.Random) -> int:
        low = node.get("minimum")
        high = node.get("maximum")
        lo = math.ceil(low) if low is not None else 0
        if high is not None and lo > high:
            lo = math.ceil(high) - 1
        hi = math.floor(high) if high is not None else lo + 100
        hi = min(hi, lo + 100)
        return rng.randint(lo, max(lo, hi))

    def string(self, node: dict[str, JSON], rng: random.Random, *, hint: str = "") -> str:
        """A string satisfying format, pattern and length limits of ``node``."""
        pattern = node.get("pattern")
        fmt = node.get("format")
        low = node.get("minLength", 0)
        high = node.get("maxLength", 1 << 30)
        if pattern is not None:
            text = self._pattern_value(pattern, rng, hint)
        elif fmt == "date-time":
            text = f"2024-01-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00.000Z"
        elif fmt == "email":
            text = f"user{rng.randint(1, 999)}@example.com"
        elif fmt == "uri":
            text = f"https://example.com/{hint or 'resource'}"
        else:
            text = f"{hint or 'value'}-{rng.randint(0, 0xFFFF):04x}"
        if len(text) > high:
            text = text[:high]
        if len(text) < low:
            text += "x" * (low - len(text))
        if pattern is not None and not self.schemas.regex(pattern).search(text):
            for candidate in _FALLBACKS:
                if low <= len(candidate) <= high and self.schemas.regex(pattern).search(candidate):
                    return candidate
        return text

    def _pattern_value(self, pattern: str, rng: random.Random, hint: str) -> str:
        known = _KNOWN_PATTERNS.get(pattern)
        if known == "<id>":
            return hex_id(rng)
        if known == "<key>":
            return f"{_identifier(hint) or 'key'}{rng.randint(0, 99)}"
        if known is not None:
            return known
        for candidate in _FALLBACKS:
            if self.schemas.regex(pattern).search(candidate):
                return candidate
        return "value"


def _identifier(hint: str) -> str:
    return "".join(c for c in hint if c.isalnum() or c in "_-")[:40]


def _implied_type(node: dict[str, JSON]) -> str | None:
    if "properties" in node or "patternProperties" in node or "required" in node:
        return "object"
    if "items" in node:
        return "array"
    if any(k in node for k in ("pattern", "minLength", "maxLength", "format")):
        return "string"
    if any(k in node for k in ("minimum", "maximum")):
        return "number"
    return None
