"""The list filters of the API, applied to stored records.

- ``filterField`` + ``filter``: a case-insensitive match of the whole field value, where
  ``*`` stands for any run of characters and ``?`` for one.
- ``tagFilter`` (devices): ``[{"key": ..., "value": ...}]``; each item needs a tag with that
  key and that value (either may be left out), and every item must be met.
- ``query``, an advanced query (``advancedDeviceQuery``, ``advancedInstanceOrgQuery``):
  ``$and`` / ``$or`` / ``$nor`` over lists of queries (an empty ``$and`` or ``$or`` matches
  everything, an empty ``$nor`` nothing), and per field either a value (equality) or an
  object of operators that must all hold: ``$eq $ne $gt $gte $lt $lte $in $nin
  $startsWith $endsWith $contains``, with ``"$ci": true`` for case-insensitive strings.
  Date fields compare as instants, given as epoch milliseconds or ISO 8601 text. A
  list-valued field matches when one of its items does (``$ne``/``$nin``: when none does).
  ``tags`` takes ``null`` (no tags), ``{"KEY": VALUE, ...}`` (a tag per key, with
  that value; ``null`` for any value), ``{"$tagKey": K, "$tagValue": V}`` (one tag matching
  both), or either of those under ``$eq`` / ``$ne``; ``K``, ``V`` and ``VALUE`` are a
  string, ``null`` (anything), ``{"$in": [...]}`` or ``{"$nin": [...]}``.

Anything else is a 400 ``Validation`` answer naming the operator.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ._call import invalid
from ._schema import JSON

Getter = Callable[[str], JSON]
"""A record's value of a field (a list for list-valued fields; None when absent)."""
Predicate = Callable[[Getter], bool]
Test = Callable[[JSON], bool]

DATE_FIELDS = frozenset(
    {"creationDate", "lastUpdated", "deletedAt", "connectedAt", "disconnectedAt", "disabledAt"}
)
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}
_TEXT: dict[str, Callable[[str, str], bool]] = {
    "$startsWith": str.startswith,
    "$endsWith": str.endswith,
    "$contains": operator.contains,
}


def glob_regex(pattern: str) -> re.Pattern[str]:
    """``*`` any run, ``?`` any one character; case-insensitive, whole value."""
    parts = ("." * (c == "?") + ".*" * (c == "*") or re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def tag_filter(items: list[dict[str, str]]) -> Test:
    """The test of a ``tagFilter`` on a record's tags."""
    wanted = [(item.get("key"), item.get("value")) for item in items]

    def test(tags: JSON) -> bool:
        return all(
            any((k is None or t["key"] == k) and (v is None or t["value"] == v) for t in tags or ())
            for k, v in wanted
        )

    return test


def compile_query(query: JSON, where: str = "query") -> Predicate:
    """An advanced query as a predicate on records; 400 for what it cannot apply."""
    if not isinstance(query, dict):
        raise invalid(f"{where} must be an object")
    parts: list[Predicate] = []
    for key, cond in query.items():
        here = f"{where}.{key}"
        if key in ("$and", "$or", "$nor"):
            if not isinstance(cond, list):
                raise invalid(f"{here} must be an array")
            subs = [compile_query(q, f"{here}[{i}]") for i, q in enumerate(cond)]
            parts.append(_logic(key, subs))
        elif key.startswith("$"):
            raise invalid(f"{here} is not a supported operator")
        elif key == "tags":
            parts.append(_on_field(key, _tags(cond, here)))
        else:
            parts.append(_on_field(key, _condition(cond, here, key in DATE_FIELDS)))
    return lambda get: all(p(get) for p in parts)


def _logic(kind: str, subs: list[Predicate]) -> Predicate:
    if kind == "$and":
        return lambda get: all(s(get) for s in subs)
    if kind == "$or":
        return lambda get: not subs or any(s(get) for s in subs)
    return lambda get: bool(subs) and not any(s(get) for s in subs)


def _on_field(name: str, test: Test) -> Predicate:
    return lambda get: test(get(name))


# -- field conditions ----------------------------------------------------------------------


def _condition(cond: JSON, where: str, date: bool) -> Test:
    if not isinstance(cond, dict):
        return _operator("$eq", cond, where, date=date, ci=False)
    ci = cond.get("$ci", False)
    if not isinstance(ci, bool):
        raise invalid(f"{where}.$ci must be true or false")
    tests = [
        _operator(op, arg, f"{where}.{op}", date=date, ci=ci)
        for op, arg in cond.items()
        if op != "$ci"
    ]
    return lambda value: all(t(value) for t in tests)


def _operator(op: str, arg: JSON, where: str, *, date: bool, ci: bool) -> Test:
    def norm(value: JSON) -> JSON:
        if date:
            return _instant(value)
        return value.casefold() if ci and isinstance(value, str) else value

    if op in ("$eq", "$ne"):
        target = norm(arg)
        equal = _some(lambda v: _same(norm(v), target))
        return equal if op == "$eq" else _negated(equal)
    if op in ("$in", "$nin"):
        if not isinstance(arg, list):
            raise invalid(f"{where} must be an array")
        targets = [norm(a) for a in arg]
        member = _some(lambda v: any(_same(norm(v), t) for t in targets))
        return member if op == "$in" else _negated(member)
    if op in _ORDER:
        compare, bound = _ORDER[op], norm(arg)
        return _some(lambda v: _comparable(norm(v), bound) and compare(norm(v), bound))
    if op in _TEXT:
        if not isinstance(arg, str):
            raise invalid(f"{where} must be a string")
        check, needle = _TEXT[op], arg.casefold() if ci else arg
        return _some(lambda v: isinstance(v, str) and check(v.casefold() if ci else v, needle))
    raise invalid(f"{where} is not a supported operator")


def _some(test: Test) -> Test:
    """Mongo-style: a list-valued field matches when one of its items does."""
    return lambda value: any(map(test, value)) if isinstance(value, list) else test(value)


def _negated(test: Test) -> Test:
    return lambda value: not test(value)


def _same(a: JSON, b: JSON) -> bool:
    """JSON equality: ``1`` equals ``1.0`` but not ``true`` or ``"1"``."""
    if _number(a) and _number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def _number(value: JSON) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _comparable(a: JSON, b: JSON) -> bool:
    return (_number(a) and _number(b)) or (isinstance(a, str) and isinstance(b, str))


def _instant(value: JSON) -> JSON:
    """Epoch milliseconds of a date given as a number or ISO 8601 text (UTC unless it says
    otherwise); anything else as it is."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            return value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return round(moment.timestamp() * 1000)
    return value


# -- tags ----------------------------------------------------------------------------------


def _tags(cond: JSON, where: str) -> Test:
    if cond is None:
        return lambda tags: not tags
    if not isinstance(cond, dict):
        raise invalid(f"{where} must be an object or null")
    if len(cond) == 1 and ("$eq" in cond or "$ne" in cond):
        op, inner = next(iter(cond.items()))
        test = _tags(inner, f"{where}.{op}")
        return test if op == "$eq" else _negated(test)
    if "$tagKey" in cond or "$tagValue" in cond:
        for key in cond:
            if key not in ("$tagKey", "$tagValue"):
                raise invalid(f"{where}.{key} is not a supported operator")
        key_ok = _tag_part(cond.get("$tagKey"), f"{where}.$tagKey")
        value_ok = _tag_part(cond.get("$tagValue"), f"{where}.$tagValue")
        return lambda tags: any(key_ok(t["key"]) and value_ok(t["value"]) for t in tags or ())
    parts: list[tuple[str, Test]] = []
    for key, spec in cond.items():
        if key.startswith("$"):
            raise invalid(f"{where}.{key} is not a supported operator")
        parts.append((key, _tag_part(spec, f"{where}.{key}")))
    return lambda tags: all(
        any(t["key"] == key and ok(t["value"]) for t in tags or ()) for key, ok in parts
    )


def _tag_part(spec: JSON, where: str) -> Test:
    """A tag key or value: a string, null (anything), ``{"$in": [...]}``, ``{"$nin": [...]}``."""
    if spec is None:
        return lambda _: True
    if isinstance(spec, str):
        return lambda text: text == spec
    if isinstance(spec, dict) and len(spec) == 1:
        op, arg = next(iter(spec.items()))
        if op not in ("$in", "$nin"):
            raise invalid(f"{where}.{op} is not a supported operator")
        if not isinstance(arg, list):
            raise invalid(f"{where}.{op} must be an array")
        allowed = set(arg)
        return (lambda text: text in allowed) if op == "$in" else (lambda text: text not in allowed)
    raise invalid(f"{where} must be a string, null, or an object with $in or $nin")
