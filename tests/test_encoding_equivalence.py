"""The per-action encoders against the reference encoding (tests/_reference_encoding.py):
for every action, on generated arguments, the same request to the byte or the same
exception with the same message."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import losant_async._generated.resources as resources_pkg
from losant_async._action import Action, Param
from losant_async._encoding import ActionEncoder, encode_action, encode_params
from losant_async._times import MAX_MS, MIN_MS

from . import _reference_encoding as reference


def _all_actions() -> list[Action[Any]]:
    found: list[Action[Any]] = []
    for info in pkgutil.iter_modules(resources_pkg.__path__):
        module = importlib.import_module(f"{resources_pkg.__name__}.{info.name}")
        found += [a for a in vars(module).values() if isinstance(a, Action)]
    return sorted(found, key=lambda a: a.qualname)


ACTIONS = _all_actions()


class Filter(msgspec.Struct):
    key: str
    value: str | None = None


class Text(str):
    """A str subclass: exact-type fast paths must not change how it is sent."""


# Reserved, percent, non-ASCII, JavaScript white space and line terminators, and a lone
# surrogate (which quote() refuses).
ALPHABET = st.sampled_from(
    list("aZ09-_.~ /?#&=+%[]{}:@!$'()*,;\"\\\n\t\u00e9\u2028\u00a0\u4e2d\U0001f600\ud800")
)
TEXT = st.text(ALPHABET, max_size=12)
# Letters and digits beyond ASCII: alphanumeric to str.isalnum(), yet quoted.
ALNUM = st.text(st.sampled_from("aZ9\u00e9\u4e2d\u0660\u01c5\u00b2"), min_size=1, max_size=4)
HEX_ID = st.text(st.sampled_from("0123456789abcdefABCDEF"), min_size=24, max_size=24)
SCALAR = st.one_of(
    st.none(),
    TEXT,
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    HEX_ID,
    ALNUM,
)
STRUCTURED = st.one_of(
    st.lists(
        st.builds(dict, key=TEXT, value=st.one_of(TEXT, st.none(), st.integers())), max_size=3
    ),
    st.lists(st.builds(Filter, key=TEXT, value=st.one_of(TEXT, st.none())), max_size=2),
    st.builds(Filter, key=TEXT),
    st.dictionaries(TEXT, SCALAR, max_size=3),
)
ODD = st.one_of(
    st.sampled_from(["", ".", "..", "0" * 23, "g" * 24, b"bytes", 3 + 4j, object()]),
    st.lists(SCALAR, max_size=4),
    st.tuples(SCALAR, SCALAR),
    st.builds(Text, TEXT),
    st.builds(Text, HEX_ID),
    st.lists(st.lists(SCALAR, max_size=2), max_size=2),
    st.binary(max_size=8).map(bytearray),
)
ANY_VALUE = st.one_of(SCALAR, STRUCTURED, ODD)


# Epoch milliseconds at and around the bounds the time arguments take as they are.
TIME_MS = st.one_of(
    st.sampled_from([0, 1, 2, -1, MIN_MS - 1, MIN_MS, MAX_MS, MAX_MS + 1, True]),
    st.integers(min_value=MIN_MS, max_value=MAX_MS),
    st.integers(min_value=-(10**13), max_value=10**13),
)


def value_for(param: Param) -> st.SearchStrategy[Any]:
    if param.kind == "time":
        return st.one_of(TIME_MS, TIME_MS, ANY_VALUE)
    if param.location == "path" or param.pattern:
        # Mostly valid, so that the later parameters are reached too.
        return st.one_of(HEX_ID, HEX_ID, HEX_ID, ANY_VALUE)
    if param.kind == "file":
        return st.one_of(st.none(), st.binary(max_size=8), st.integers())
    return st.one_of(st.none(), st.none(), ANY_VALUE)


def outcome(encode: Any, action: Action[Any], args: dict[str, Any]) -> tuple[Any, ...]:
    try:
        r = encode(action, args)
    except Exception as exc:  # every failure must match the reference's
        return ("raised", type(exc), str(exc))
    return ("sent", r.method, r.path, r.query, r.headers, r.body, r.multipart)


def check(action: Action[Any], args: dict[str, Any]) -> None:
    expected = outcome(reference.encode_action, action, args)
    assert outcome(encode_action, action, args) == expected
    # Once more: now through the built encoder and its caches.
    assert outcome(encode_action, action, args) == expected
    # And through a new encoder, whose first call finds the caches others filled.
    fresh = ActionEncoder(action)
    assert outcome(lambda _a, kw: fresh.encode(kw), action, args) == expected


def base_args(action: Action[Any]) -> dict[str, Any]:
    args: dict[str, Any] = {"_actions": False, "_links": True, "_embedded": True}
    args |= {"losantdomain": None, "timeout": None}
    for p in action.params:
        args[p.attr] = "5f0a1b2c3d4e5f6a7b8c9d0e" if (p.location == "path" or p.pattern) else None
    return args


def test_every_action_is_covered() -> None:
    assert len(ACTIONS) == 375
    for action in ACTIONS:
        check(action, base_args(action))
        args = base_args(action)
        for p in action.params:
            if p.location == "query" and not p.pattern:
                args[p.attr] = {
                    "flatten": [{"key": "a b", "value": "é&"}],
                    "object": {"q": [1]},
                }.get(p.kind, "x y/%é")
        check(action, args)
        for p in action.params:
            if p.location == "query" and not p.pattern and p.kind in ("string", "array"):
                args[p.attr] = "\u00e9\u0660" if p.kind == "string" else ["\u00b2", "a"]
        check(action, args)


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_same_request_or_same_error(data: st.DataObject) -> None:
    action = data.draw(st.sampled_from(ACTIONS))
    args = base_args(action)
    for p in action.params:
        args[p.attr] = data.draw(value_for(p), label=p.attr)
    if data.draw(st.integers(0, 4)) == 0:
        for name in ("_actions", "_links", "_embedded"):
            args[name] = data.draw(st.one_of(st.booleans(), SCALAR, ODD), label=name)
    args["losantdomain"] = data.draw(st.one_of(st.none(), TEXT, st.integers()))
    check(action, args)


@settings(max_examples=500, deadline=None)
@given(params=st.one_of(st.none(), st.dictionaries(TEXT, ANY_VALUE, max_size=4)))
def test_free_form_query_matches(params: dict[str, Any] | None) -> None:
    def run(encode: Any) -> tuple[Any, ...]:
        try:
            return ("sent", encode(params))
        except Exception as exc:
            return ("raised", type(exc), str(exc))

    assert run(encode_params) == run(reference.encode_params)


@pytest.mark.parametrize("value", ["", ".", "..", "5f0a1b2c3d4e5f6a7b8c9d0", 24])
def test_bad_ids_fail_before_and_after_a_good_one(value: object) -> None:
    """A cached good ID must not let a bad one through, and a refused one stays refused."""
    (action,) = [a for a in ACTIONS if a.qualname == "application.get"]
    good = base_args(action)
    check(action, good)
    bad = dict(good, application_id=value)
    for _ in range(2):
        with pytest.raises((TypeError, ValueError)):
            encode_action(action, bad)
        check(action, bad)


def test_an_unquotable_value_is_reported_after_later_bad_arguments() -> None:
    """quote() refuses a lone surrogate; every later argument is still checked first."""
    pairs = 0
    for action in ACTIONS:
        params = action.params
        for i, early in enumerate(params):
            if early.location != "query" or early.pattern:
                continue
            for late in params[i + 1 :]:
                args = base_args(action)
                args[early.attr] = "\u00e9\ud800"
                args[late.attr] = object()
                check(action, args)
                pairs += 1
        args = base_args(action)
        args["_links"] = "\ud800"
        if params:
            args[params[-1].attr] = object()
        check(action, args)
    assert pairs > 100


class _CountingEncoder(ActionEncoder):
    """Counts the calls handed to the general encoder."""

    __slots__ = ("general",)

    def __init__(self, action: Action[Any]) -> None:
        self.general = 0
        super().__init__(action)

    def encode_any(self, args: Any) -> Any:
        self.general += 1
        return super().encode_any(args)


def _through(encoder: ActionEncoder, action: Action[Any], args: dict[str, Any]) -> tuple[Any, ...]:
    return outcome(lambda _a, kw: encoder.encode(kw), action, args)


def test_plain_calls_skip_the_general_encoder() -> None:
    """Every action but the uploads has a function of its own for plain arguments: after
    the first call has checked the IDs, it encodes alone; anything else (a float, a
    filter, an ID not seen yet, a flag not at its default) goes to the general encoder."""
    for action in ACTIONS:
        encoder = _CountingEncoder(action)
        uploads = any(p.location == "multipart" for p in action.params)
        args = base_args(action)
        expected = outcome(reference.encode_action, action, args)
        for _ in range(2):
            encoder.general = 0  # the first call may check IDs no other call has sent
            assert _through(encoder, action, args) == expected
        assert encoder.general == int(uploads), action.qualname
    (action,) = [a for a in ACTIONS if a.qualname == "instanceOrg.payloadCountsBreakdown"]
    encoder = _CountingEncoder(action)
    plain = base_args(action) | {"start": MIN_MS, "end": MAX_MS, "resolution": 3600000}
    encoder.encode(plain)
    encoder.general = 0
    for args in (plain, plain | {"as_bytes": 1.5}, plain | {"_links": False}, plain):
        assert _through(encoder, action, args) == outcome(reference.encode_action, action, args)
    assert encoder.general == 2
