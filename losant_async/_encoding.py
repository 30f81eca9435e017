"""Request encoding, identical to Losant's official clients.

Path parameters are checked against their pattern and percent-quoted; the query starts
with ``_actions=false&_links=true&_embedded=true``; booleans are ``true``/``false``;
``None`` is omitted; object-typed query values (``query``) are JSON text; array values
are sent as ``name[0]=a&name[1]=b``, and the structured filters (``tagFilter``,
``deviceClass``, ...) flattened the same way (``tagFilter[0][key]=floor``); JSON bodies are
encoded with msgspec; uploads are multipart.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple, cast
from urllib.parse import quote

import msgspec

from ._action import Action, Param
from ._times import MAX_MS, MIN_MS, to_epoch_ms

_json_encode = msgspec.json.Encoder().encode

GLOBAL_QUERY = ("_actions", "_links", "_embedded")


class EncodedRequest(msgspec.Struct):
    """Everything needed to send one call, built once and re-sent on retries."""

    method: str
    path: str  # already quoted
    query: str  # already encoded, without "?"
    headers: dict[str, str] | None = None  # this request's own: the client adds its own
    body: bytes | None = None
    multipart: list[tuple[str, bytes | str, str | None]] | None = None  # name, value, filename

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


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


_CACHE_SIZE = 4096  # entries of each cache below, emptied when full
_quoted_keys: dict[str, str] = {}


def _quote_key(key: str) -> str:
    """Query names repeat call after call (``name``, ``name[0]``): quoted once each."""
    quoted = _quoted_keys.get(key)
    if quoted is None:
        quoted = quote(key, safe="")
        if type(key) is str:  # a str subclass may format differently: not cached
            if len(_quoted_keys) >= _CACHE_SIZE:
                _quoted_keys.clear()
            _quoted_keys[key] = quoted
    return quoted


def _quote_value(value: str) -> str:
    # Letters and digits alone (IDs, numbers, true/false) are what quote() leaves as is.
    if type(value) is str and value.isalnum() and value.isascii():
        return value
    return quote(value, safe="")


def encode_query(pairs: list[tuple[str, str]]) -> str:
    return "&".join([f"{_quote_key(k)}={_quote_value(v)}" for k, v in pairs])


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
    return (action.encoder or encoder_for(action)).encode(args)


def encoder_for(action: Action[Any]) -> ActionEncoder:
    """The action's encoder, built on its first call."""
    encoder = action.encoder
    if encoder is None:
        encoder = action.encoder = ActionEncoder(action)
    return encoder


# What one parameter's step does; the steps run in the parameters' order, so that the
# first bad argument is the one reported, as before the encoder was compiled.
_PATH, _QUERY, _BODY, _MULTIPART = range(4)
# Kinds whose str, int, float and bool values go straight to query_value(); any other
# kind is left to add_query().
_SCALAR_KINDS = frozenset({"string", "boolean"})
_FAST_SCALAR, _FAST_TIME = 1, 2
_DEFAULT_GLOBALS = "_actions=false&_links=true&_embedded=true"
_PLACEHOLDER = re.compile(r"(\{[^{}]*\})")
# Path values already checked and quoted, per pattern: IDs repeat call after call.
_checked_paths: dict[str | None, dict[str, str]] = {}


class _Step(NamedTuple):
    where: int
    param: Param
    regex: re.Pattern[str] | None  # the parameter's pattern, compiled
    fast: int  # _FAST_SCALAR: exact str, int and bool skip add_query(); _FAST_TIME: int ms
    cache: dict[str, str] | None  # path values checked and quoted
    key: str  # the query name, quoted, and "="


class ActionEncoder:
    """The encoding of one action, worked out on its first call: the path template split
    at its placeholders, patterns compiled and query names known.

    :meth:`encode` is a function written for the action (see :func:`_compile`) for the
    arguments most calls pass; it hands any other call to :meth:`encode_any`.
    """

    __slots__ = ("encode", "events", "method", "pieces", "steps")

    encode: Callable[[Mapping[str, Any]], EncodedRequest]

    def __init__(self, action: Action[Any]) -> None:
        self.method = action.method
        self.events = action.events is not None
        path_names = {p.name for p in action.params if p.location == "path"}
        pieces: list[tuple[str, bool]] = []
        for piece in _PLACEHOLDER.split(action.path):
            if piece.startswith("{") and piece[1:-1] in path_names:
                pieces.append((piece[1:-1], True))
            elif piece:
                pieces.append((piece, False))
        self.pieces = tuple(pieces)
        steps: list[_Step] = []
        for param in action.params:
            regex = _pattern(param.pattern) if param.pattern else None
            if param.location == "path":
                cache = _checked_paths.setdefault(param.pattern, {})
                steps.append(_Step(_PATH, param, regex, 0, cache, ""))
            elif param.location == "query":
                fast = _FAST_SCALAR if param.kind in _SCALAR_KINDS else 0
                if param.kind == "time":
                    fast = _FAST_TIME
                key = quote(param.name, safe="") + "="
                steps.append(_Step(_QUERY, param, regex, fast, None, key))
            elif param.location == "body":
                steps.append(_Step(_BODY, param, regex, 0, None, ""))
            elif param.location == "multipart":
                steps.append(_Step(_MULTIPART, param, regex, 0, None, ""))
        self.steps = tuple(steps)
        self.encode = _compile(self)

    def encode_any(self, args: Mapping[str, Any]) -> EncodedRequest:
        """The request for the keyword arguments of the action's coroutine, whatever they
        are: every check in the parameters' order, errors and all."""
        # The query is built as it goes; a value quote() refuses (a lone surrogate) is
        # raised last, after every argument's own checks, as the reference encoding does.
        parts: list[str] = []
        unquotable: UnicodeEncodeError | None = None
        if not self.events:
            a, links, embedded = args["_actions"], args["_links"], args["_embedded"]
            if a is False and links is True and embedded is True:
                parts.append(_DEFAULT_GLOBALS)
            else:
                for name, value in zip(GLOBAL_QUERY, (a, links, embedded), strict=True):
                    text = query_value(name, value)
                    try:
                        parts.append(f"{name}={_quote_value(text)}")
                    except UnicodeEncodeError as exc:
                        unquotable = unquotable or exc
        segments: dict[str, str] = {}
        body: bytes | None = None
        multipart: list[tuple[str, bytes | str, str | None]] | None = None
        for where, param, regex, fast, cache, key in self.steps:
            value = args[param.attr]
            if where == _PATH:
                assert cache is not None
                quoted = cache.get(value) if type(value) is str else None
                if quoted is None:
                    quoted = _path_value(param, value, regex)
                    if type(value) is str:
                        if len(cache) >= _CACHE_SIZE:
                            cache.clear()
                        cache[value] = quoted
                segments[param.name] = quoted
            elif where == _QUERY:
                if value is None:
                    continue
                if param.pattern:
                    _check_pattern(param, value, regex)
                kind = type(value)
                if fast == _FAST_SCALAR:
                    if kind is str and value.isascii():
                        parts.append(key + (value if value.isalnum() else quote(value, safe="")))
                        continue
                    if kind is bool:
                        parts.append(key + ("true" if value else "false"))
                        continue
                    if kind is int:
                        parts.append(key + str(value))  # digits and "-": nothing to quote
                        continue
                elif (
                    fast == _FAST_TIME
                    and kind is int
                    and (MIN_MS <= value <= MAX_MS or value <= 0 or value == 1)
                ):
                    # Epoch ms that to_epoch_ms() takes as they are.
                    parts.append(key + str(value))
                    continue
                pairs: list[tuple[str, str]] = []
                add_query(pairs, param.name, param.kind, value)
                for k, v in pairs:
                    try:
                        parts.append(f"{_quote_key(k)}={_quote_value(v)}")
                    except UnicodeEncodeError as exc:
                        unquotable = unquotable or exc
            elif where == _BODY:
                if value is not None:
                    body = _body(param, value)
            elif value is not None:  # multipart
                multipart = multipart or []
                multipart.append(_multipart_field(param, value))
        path = "".join([segments[text] if slot else text for text, slot in self.pieces])
        headers: dict[str, str] | None = None
        domain = args.get("losantdomain")
        if domain is not None:
            headers = {"losantdomain": str(domain)}
        if body is not None:
            headers = headers or {}
            headers["Content-Type"] = "application/json"
        if unquotable is not None:
            raise unquotable
        return EncodedRequest(self.method, path, "&".join(parts), headers, body, multipart)


def _check_pattern(param: Param, value: Any, regex: re.Pattern[str] | None) -> None:
    if not isinstance(value, str):
        raise TypeError(f"parameter {param.attr!r} takes a string, not {type(value).__name__}")
    if regex is not None and not regex.search(value):
        raise ValueError(
            f"parameter {param.attr!r} must match {param.pattern} (a 24-character hex ID "
            f"where the API says so); got {value!r}"
            if "24" in (param.pattern or "")
            else f"parameter {param.attr!r} must match {param.pattern}; got {value!r}"
        )


def _path_value(param: Param, value: Any, regex: re.Pattern[str] | None) -> str:
    _check_pattern(param, value, regex)
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


def _compile(encoder: ActionEncoder) -> Callable[[Mapping[str, Any]], EncodedRequest]:
    """A function encoding one action's calls whose arguments need no check beyond their
    type (the global flags at their defaults, IDs seen before, plain str, bool and int
    query values, epoch-ms times, no structured filter): the steps of
    :meth:`ActionEncoder.encode_any` written out for the action, with no loop, no step to
    unpack and no branch on a parameter's kind, the query one f-string of a piece per
    parameter (``"&name=value"``, or ``""`` for None). Any other call goes to
    ``encode_any``, which checks everything from the start, so errors are reported as
    they always were. Actions with file uploads use ``encode_any`` alone."""
    if any(step.where == _MULTIPART for step in encoder.steps):
        return encoder.encode_any
    env: dict[str, Any] = {
        "_any": encoder.encode_any,
        "_EncodedRequest": EncodedRequest,
        "_quote": quote,
        "_body": _body,
    }
    lines = ["def encode(args):"]
    if not encoder.events:
        lines += [
            "    if (args['_actions'] is not False or args['_links'] is not True",
            "            or args['_embedded'] is not True):",
            "        return _any(args)",
        ]
    segments: dict[str, str] = {}
    pieces: list[str] = []  # the query's, one local each
    body = None
    for i, (where, param, regex, fast, cache, key) in enumerate(encoder.steps):
        # Names and values as the general encoder writes them: quoted, which leaves no
        # brace or quote in a name to escape here.
        amp = "&" + key
        lines.append(f"    v = args[{param.attr!r}]")
        if where == _PATH:
            env[f"_cache{i}"] = cache
            lines += [
                f"    s{i} = _cache{i}.get(v) if type(v) is str else None",
                f"    if s{i} is None:",
                "        return _any(args)",
            ]
            segments[param.name] = f"s{i}"
            continue
        if where == _BODY:  # what encode_any would send, or the same error
            env[f"_param{i}"] = param
            lines += ["    if v is not None:", f"        body = _body(_param{i}, v)"]
            body = "body"
            continue
        pieces.append(f"q{i}")
        lines += ["    if v is None:", f"        q{i} = ''"]
        if fast == _FAST_TIME and regex is None:
            lines += [
                f"    elif type(v) is int and ({MIN_MS} <= v <= {MAX_MS} or v <= 0 or v == 1):",
                f"        q{i} = f'{amp}{{v}}'",
            ]
        elif fast == _FAST_SCALAR:
            if regex is not None:
                env[f"_regex{i}"] = regex
                lines += [
                    f"    elif type(v) is not str or not _regex{i}.search(v):",
                    "        return _any(args)",
                ]
            lines += [
                "    elif type(v) is str and v.isascii():",
                f"        q{i} = f'{amp}{{v if v.isalnum() else _quote(v, safe=\"\")}}'",
                "    elif type(v) is bool:",
                f"        q{i} = {amp + 'true'!r} if v else {amp + 'false'!r}",
                "    elif type(v) is int:",
                f"        q{i} = f'{amp}{{v}}'",  # digits and "-": nothing to quote
            ]
        lines += ["    else:", "        return _any(args)"]
    if body is not None:
        lines.insert(1, "    body = None")
    path = (
        " + ".join(segments[text] if slot else repr(text) for text, slot in encoder.pieces) or "''"
    )
    query = "".join(f"{{{q}}}" for q in pieces)
    if encoder.events:  # no global flags before the first piece: its "&" goes
        query = f"f'{query}'[1:]" if pieces else "''"
    else:
        query = f"f'{_DEFAULT_GLOBALS}{query}'"
    lines += [
        "    headers = None",
        "    domain = args.get('losantdomain')",
        "    if domain is not None:",
        "        headers = {'losantdomain': str(domain)}",
    ]
    if body is not None:
        lines += [
            "    if body is not None:",
            "        headers = headers or {}",
            "        headers['Content-Type'] = 'application/json'",
        ]
    lines.append(
        f"    return _EncodedRequest({encoder.method!r}, {path}, {query}, headers, {body}, None)"
    )
    exec("\n".join(lines), env)  # source built above from the action alone
    return cast("Callable[[Mapping[str, Any]], EncodedRequest]", env["encode"])
