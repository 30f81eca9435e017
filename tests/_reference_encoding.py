"""The request encoding as it was before per-action encoders: kept here, in the tests only,
as the reference the compiled encoders must match byte for byte and error for error."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import msgspec

from losant_async._action import Action, Param
from losant_async._encoding import EncodedRequest
from losant_async._times import to_epoch_ms

_json_encode = msgspec.json.Encoder().encode

GLOBAL_QUERY = ("_actions", "_links", "_embedded")

# JavaScript's \s: Unicode white space and the line terminators.
_JS_SPACE = r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_JS_OUTSIDE_CLASS = {
    "$": r"\Z",  # JavaScript's $ is the very end; Python's also matches before a final "\n"
    ".": r"[^\n\r\u2028\u2029]",  # JavaScript's . excludes every line terminator
}
_JS_ESCAPES_OUTSIDE_CLASS = {r"\s": f"[{_JS_SPACE}]", r"\S": f"[^{_JS_SPACE}]"}


@lru_cache(maxsize=64)
def _pattern(pattern: str) -> re.Pattern[str]:
    r"""The API's pattern, written for JavaScript, compiled to mean the same in Python.

    Besides ``$`` and ``.`` (above), JavaScript's ``\d``, ``\w`` and ``\b`` are ASCII-only
    (re.ASCII); Python's would take "\u0660" (ARABIC-INDIC DIGIT ZERO) for a digit.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            escape = pattern[i : i + 2]
            if in_class and escape == r"\s":
                out.append(_JS_SPACE)
            else:
                out.append(escape if in_class else _JS_ESCAPES_OUTSIDE_CLASS.get(escape, escape))
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        else:
            c = _JS_OUTSIDE_CLASS.get(c, c)
        out.append(c)
        i += 1
    return re.compile("".join(out), re.ASCII)


def query_value(name: str, value: Any) -> str:
    """One scalar query value as Losant expects it."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    raise TypeError(
        f"parameter {name!r} takes a string, number or boolean, not {type(value).__name__}"
    )


def _json_text(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value  # already JSON text
    try:
        return _json_encode(value).decode()
    except (TypeError, msgspec.EncodeError) as exc:
        raise TypeError(f"parameter {name!r} cannot be encoded as JSON: {exc}") from None


def encode_query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def encode_params(params: Mapping[str, Any] | None) -> str:
    """A caller's free-form query (``client.request``, ``client.stream``), by the same rules."""
    pairs: list[tuple[str, str]] = []
    for name, value in (params or {}).items():
        add_query(pairs, name, "string", value)
    return encode_query(pairs)


def add_query(pairs: list[tuple[str, str]], name: str, kind: str, value: Any) -> None:
    """Append ``name=value`` to ``pairs`` by the rules of the parameter's kind."""
    if value is None:
        return
    if kind == "time":  # the API's ms since the epoch, from a datetime, date, ...
        pairs.append((name, str(to_epoch_ms(value, name))))
    elif kind == "flatten":
        _flatten(pairs, name, name, value)
    elif kind == "object" or isinstance(value, Mapping | msgspec.Struct):
        pairs.append((name, _json_text(name, value)))
    elif kind == "array" or (isinstance(value, Sequence) and not isinstance(value, str)):
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise TypeError(f"parameter {name!r} takes a sequence of values")
        for i, item in enumerate(value):
            pairs.append((f"{name}[{i}]", query_value(name, item)))
    else:
        pairs.append((name, query_value(name, value)))


def _flatten(pairs: list[tuple[str, str]], param: str, key: str, value: Any) -> None:
    """``key[sub]=leaf`` pairs for nested mappings and sequences, as the official
    clients send structured filters."""
    if isinstance(value, msgspec.Struct):
        value = msgspec.to_builtins(value)
    if value is None:
        return
    if isinstance(value, Mapping):
        for sub, item in value.items():
            _flatten(pairs, param, f"{key}[{sub}]", item)
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        for i, item in enumerate(value):
            _flatten(pairs, param, f"{key}[{i}]", item)
    else:
        pairs.append((key, query_value(param, value)))


def encode_action(action: Action[Any], args: Mapping[str, Any]) -> EncodedRequest:
    """Build the request for ``action`` from the keyword arguments of its coroutine."""
    path = action.path
    pairs: list[tuple[str, str]] = []
    body: bytes | None = None
    multipart: list[tuple[str, bytes | str, str | None]] | None = None
    if action.events is None:
        for name in GLOBAL_QUERY:
            pairs.append((name, query_value(name, args[name])))
    for param in action.params:
        value = args[param.attr]
        where = param.location
        if where == "path":
            path = path.replace("{" + param.name + "}", _path_value(param, value))
        elif where == "query":
            if param.pattern and value is not None:
                _check_pattern(param, value)
            add_query(pairs, param.name, param.kind, value)
        elif where == "body":
            if value is not None:
                body = _body(param, value)
        elif where == "multipart":
            if value is not None:
                multipart = multipart or []
                multipart.append(_multipart_field(param, value))
    headers: dict[str, str] = {}
    domain = args.get("losantdomain")
    if domain is not None:
        headers["losantdomain"] = str(domain)
    if body is not None:
        headers["Content-Type"] = "application/json"
    return EncodedRequest(
        action.method, path, encode_query(pairs), headers or None, body, multipart
    )


def _check_pattern(param: Param, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"parameter {param.attr!r} takes a string, not {type(value).__name__}")
    if param.pattern and not _pattern(param.pattern).search(value):
        raise ValueError(
            f"parameter {param.attr!r} must match {param.pattern} (a 24-character hex ID "
            f"where the API says so); got {value!r}"
            if "24" in param.pattern
            else f"parameter {param.attr!r} must match {param.pattern}; got {value!r}"
        )


def _path_value(param: Param, value: Any) -> str:
    _check_pattern(param, value)
    if value in ("", ".", ".."):
        # Quoting leaves dots alone and URLs resolve dot segments: "..", sent, would
        # reach another endpoint (a version's delete would become the parent's).
        raise ValueError(f"parameter {param.attr!r} must not be {value!r}")
    return quote(value, safe="")


def _body(param: Param, value: Any) -> bytes:
    try:
        return _json_encode(value)
    except (TypeError, msgspec.EncodeError) as exc:
        raise TypeError(f"parameter {param.attr!r} cannot be encoded as JSON: {exc}") from None


def _multipart_field(param: Param, value: Any) -> tuple[str, bytes | str, str | None]:
    if param.kind == "file":
        if isinstance(value, bytes | bytearray):
            return (param.name, bytes(value), param.name)
        if isinstance(value, os.PathLike):
            path = os.fspath(value)
            with open(path, "rb") as fh:
                return (param.name, fh.read(), os.path.basename(path))
        if hasattr(value, "read"):
            data = value.read()
            if not isinstance(data, bytes):
                raise TypeError(f"parameter {param.attr!r}: the file must be opened in binary mode")
            name = getattr(value, "name", None)
            filename = os.path.basename(name) if isinstance(name, str) else param.name
            return (param.name, data, filename)
        raise TypeError(
            f"parameter {param.attr!r} takes bytes, a binary file object or a path "
            f"(os.PathLike), not {type(value).__name__}"
        )
    if param.kind == "object" or isinstance(value, Mapping | msgspec.Struct):
        return (param.name, _json_text(param.attr, value), None)
    return (param.name, query_value(param.attr, value), None)
