"""Lenient decoding: a response whose values drift from the schema still decodes.

The typed decode stays msgspec's strict, cached :class:`msgspec.json.Decoder`; only when
it raises does :func:`decode_leniently` run. It decodes the body to builtins, walks it
once against the model's type hints (compiled once per type and cached) and repairs what
does not fit:

- a string or number msgspec can coerce (``"5"`` for an int, ``1`` for a bool) is coerced
  with msgspec's own lax rules (``strict=False``);
- a number (or numeric string) where a datetime belongs is read as epoch milliseconds,
  Losant's unit, giving an aware UTC datetime (msgspec's lax mode would read seconds);
- a ``null`` or any item that cannot fit a list's item type is dropped from the list, a
  dict value that cannot fit is dropped from the dict;
- any other field value that cannot fit leaves the field at its default (``None``).

The result is built with ``msgspec.convert(..., strict=False)``, and a
:class:`LosantDecodeWarning` names each kind of repair and lists the path of every
repaired value. What cannot be repaired (a body that is not JSON, a list where an object
belongs at the top) raises :class:`~losant_async.DecodeError` with the raw body.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import types
import typing
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec

from .errors import DecodeError

__all__ = ["LosantDecodeWarning", "Repair", "decode_leniently", "repair"]

logger = logging.getLogger("losant_async")


class Repair(msgspec.Struct, frozen=True):
    """One value changed to fit its model: where (a JSON path of the body) and how."""

    path: str
    note: str


class LosantDecodeWarning(UserWarning):
    """A response did not fit its model and was repaired to decode.

    The text names each kind of repair once (``$.counts[*].value: string does not fit
    int | None; default kept``); ``repairs`` lists every changed value with its JSON path
    in the body, ``body`` holds the raw response, ``status``, ``method`` and ``path`` the
    request. Python shows each distinct text once; to refuse drifted responses instead,
    ``warnings.simplefilter("error", LosantDecodeWarning)``.
    """

    def __init__(
        self,
        message: str,
        *,
        repairs: Sequence[Repair] = (),
        body: bytes = b"",
        status: int = 0,
        method: str = "",
        path: str = "",
    ) -> None:
        super().__init__(message)
        self.repairs = repairs
        self.body = body
        self.status = status
        self.method = method
        self.path = path


class _Unfit:
    """The value cannot take this type: its container drops it or keeps the default."""

    def __repr__(self) -> str:
        return "UNFIT"


UNFIT: Final = _Unfit()

# A path as a chain of (parent, key) pairs: built per visited value, joined only for a
# repair, so walking a good subtree costs no string work.
_Path = tuple[Any, ...]
_ROOT: _Path = ()


def _keys(path: _Path) -> tuple[str | int, ...]:
    """A path's keys from the top."""
    keys: list[str | int] = []
    while path:
        path, key = path
        keys.append(key)
    return tuple(reversed(keys))


def _format_path(keys: tuple[str | int | None, ...]) -> str:
    """``$.counts[3].value``; a None key (any index) shows as ``[*]``."""
    parts = ["$"]
    for key in keys:
        if key is None:
            parts.append("[*]")
        elif isinstance(key, int):
            parts.append(f"[{key}]")
        elif _SIMPLE_KEY.fullmatch(key):
            parts.append(f".{key}")
        else:
            parts.append(f"[{json.dumps(key)}]")
    return "".join(parts)


_SIMPLE_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")  # ASCII digits only, as JSON means
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _kind(value: Any) -> str:
    """A value's JSON type, for repair notes."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


class _Notes:
    """The repairs of one decode, in the order found, as found: a body bad throughout
    makes one per row, and only those read are ever formatted."""

    __slots__ = ("raw",)

    def __init__(self) -> None:
        self.raw: list[tuple[_Path, str, Any, str]] = []

    def add(self, path: _Path, template: str, value: Any, expected: str = "") -> None:
        self.raw.append((path, template, value, expected))


class _Repairs(Sequence[Repair]):
    """The repairs of one decode, each formatted on first read."""

    def __init__(self, raw: list[tuple[_Path, str, Any, str]]) -> None:
        self._raw = raw
        self._done: dict[int, Repair] = {}

    def __len__(self) -> int:
        return len(self._raw)

    @typing.overload
    def __getitem__(self, index: int) -> Repair: ...
    @typing.overload
    def __getitem__(self, index: slice) -> Sequence[Repair]: ...
    def __getitem__(self, index: int | slice) -> Repair | Sequence[Repair]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._raw)))]
        index = range(len(self._raw))[index]  # negative indexes, and IndexError
        done = self._done.get(index)
        if done is None:
            path, template, value, expected = self._raw[index]
            note = template.format(kind=_kind(value), value=value, expected=expected)
            done = self._done[index] = Repair(_format_path(_keys(path)), note)
        return done

    def __repr__(self) -> str:
        return repr(list(self))


class _Fixer:
    """Checks a value against one type; returns it (repaired) or :data:`UNFIT`."""

    __slots__ = ("expected",)

    def __init__(self, expected: str) -> None:
        self.expected = expected

    def fix(self, value: Any, path: _Path, notes: _Notes) -> Any:
        raise NotImplementedError


class _Scalar(_Fixer):
    """A leaf: values of the exact JSON types pass; others get msgspec's lax coercion.

    With no exact types it is the fallback for any type this module does not walk (a
    Literal, an Enum, a constrained type): msgspec decides.
    """

    __slots__ = ("exact", "type")

    def __init__(self, type_: Any, exact: tuple[type, ...], expected: str) -> None:
        super().__init__(expected)
        self.type = type_
        self.exact = exact

    def fix(self, value: Any, path: _Path, notes: _Notes) -> Any:
        if type(value) in self.exact:
            return value
        try:
            fixed = msgspec.convert(value, self.type, strict=False)
        except msgspec.ValidationError:
            return UNFIT
        if not self.exact:
            return fixed  # the fallback: msgspec found it fits, no repair to report
        notes.add(path, "{kind} coerced to {expected}", value, self.expected)
        return fixed


class _DateTime(_Fixer):
    """RFC 3339 strings as msgspec reads them; numbers as epoch milliseconds."""

    __slots__ = ()

    def fix(self, value: Any, path: _Path, notes: _Notes) -> Any:
        if type(value) is str:
            try:
                return msgspec.convert(value, dt.datetime)
            except msgspec.ValidationError:
                if not _NUMBER.fullmatch(value):
                    return UNFIT
                millis: int | float = float(value)
        elif type(value) is int or type(value) is float:
            millis = value
        else:
            return UNFIT
        try:
            fixed = _EPOCH + dt.timedelta(milliseconds=millis)
        except (OverflowError, ValueError):
            return UNFIT
        notes.add(path, "{kind} read as epoch milliseconds", value)
        return fixed


class _Optional(_Fixer):
    """``T | None``, most fields' type: ``None`` at once, anything else to ``T``."""

    __slots__ = ("inner",)

    def __init__(self, inner: _Fixer, expected: str) -> None:
        super().__init__(expected)
        self.inner = inner

    def fix(self, value: Any, path: _Path, notes: _Notes) -> Any:
        if value is None:
            return None
        return self.inner.fix(value, path, notes)


class _Union(_Fixer):
    """The member that takes the value's JSON type first, then any that can coerce it."""

    __slots__ = ("by_kind", "members")

    def __init__(self, members: list[_Fixer], by_kind: dict[type, _Fixer], expected: str) -> None:
        super().__init__(expected)
        self.members = members
        self.by_kind = by_kind

    def fix(self, value: Any, path: _Path, notes: _Notes) -> Any:
        first = self.by_kind.get(type(value))
        mark = len(notes.raw)
        if first is not None:
            fixed = first.fix(value, path, notes)
            if fixed is not UNFIT:
                return fixed
        for member in self.members:
            if member is not first:
                del notes.raw[mark:]  # a member that refused the value repaired nothing
                fixed = member.fix(value, path, notes)
                if fixed is not UNFIT:
                    return fixed
        del notes.raw[mark:]
        return UNFIT


class _Container(_Fixer):
    """A list or a dict of ``inner`` items (None: any item fits as it is)."""

    __slots__ = ("inner",)
    kind: type = object

    def __init__(self, inner: _Fixer | None, expected: str) -> None:
        super().__init__(expected)
        self.inner = inner

    def fix(self, value: Any, path: _Path, notes: _Notes) -> Any:
        if type(value) is not self.kind:
            return UNFIT
        inner = self.inner
        return value if inner is None else self.fix_items(value, inner, path, notes)

    def fix_items(self, value: Any, inner: _Fixer, path: _Path, notes: _Notes) -> Any:
        raise NotImplementedError


class _List(_Container):
    """A list; an item that cannot fit (a ``null`` among objects) is dropped.

    msgspec converts the runs of good items in C, a chunk at a time: a failed conversion
    names the first bad index, the good run before it is converted at once and only the
    bad item is walked. The next chunk is twice the last good run; where items are bad
    one after another, a growing stretch is walked between tries, so a list bad
    throughout costs about one walk.
    """

    __slots__ = ("type",)
    kind = list

    def __init__(self, type_: Any, item: _Fixer | None, expected: str) -> None:
        super().__init__(item, expected)
        self.type = type_

    def fix_items(self, value: Any, item: _Fixer, path: _Path, notes: _Notes) -> Any:
        out: list[Any] = []
        i, count = 0, len(value)
        size, wait, backoff = count, 0, 1
        while i < count:
            if wait:
                wait -= 1
            else:
                chunk = value[i : i + size] if i or size < count else value
                try:
                    out.extend(msgspec.convert(chunk, self.type))
                except msgspec.ValidationError as exc:
                    bad = _first_index(exc, len(chunk))
                else:
                    i += len(chunk)
                    size, backoff = 2 * size, 1
                    continue
                if bad is None:
                    wait = count  # no index to go by: walk the rest
                elif bad:
                    try:
                        out.extend(msgspec.convert(chunk[:bad], self.type))
                    except msgspec.ValidationError:
                        wait = count  # the index was not the first bad one: walk the rest
                        continue
                    i += bad
                    size, backoff = max(2 * bad, _MIN_RUN), 1
                else:
                    size, wait, backoff = _MIN_RUN, backoff, min(2 * backoff, _MAX_WAIT)
            x = value[i]
            fixed = item.fix(x, (path, i), notes)
            if fixed is UNFIT:
                if x is None:
                    notes.add((path, i), _DROPPED_NULL, x)
                else:
                    notes.add((path, i), _DROPPED_ITEM, x, item.expected)
            else:
                out.append(fixed)
            i += 1
        return out


_MIN_RUN = 32  # items converted at a try after a bad one
_MAX_WAIT = 64  # items walked at most between tries where every item is bad
_DROPPED_NULL = "null dropped from the array"
_DROPPED_ITEM = "{kind} that does not fit {expected} dropped from the array"
_DROPPED_VALUE = "{kind} that does not fit {expected} dropped"
_DEFAULTED = "{kind} does not fit {expected}; default kept"
_AT_INDEX = re.compile(r" - at `\$\[([0-9]+)\]")


def _first_index(error: msgspec.ValidationError, count: int) -> int | None:
    """The list index msgspec's error points at, if it names one within the list."""
    match = _AT_INDEX.search(str(error))
    if match is None:
        return None
    index = int(match.group(1))
    return index if index < count else None


class _Dict(_Container):
    """``dict[str, V]``; a value that cannot fit ``V`` is dropped with its key."""

    __slots__ = ()
    kind = dict

    def fix_items(self, value: Any, fixer: _Fixer, path: _Path, notes: _Notes) -> Any:
        _fix_members(value, lambda _key: fixer, path, notes, _DROPPED_VALUE)
        return value


def _fix_members(
    value: dict[str, Any],
    fixer_of: Callable[[str], _Fixer | None],
    path: _Path,
    notes: _Notes,
    note: str,
) -> None:
    """Fix each value of ``value`` in place with its key's fixer (None: kept as it is);
    one that cannot fit is noted with ``note`` and removed with its key."""
    dropped = None
    for key, x in value.items():
        fixer = fixer_of(key)
        if fixer is None:
            continue
        fixed = fixer.fix(x, (path, key), notes)
        if fixed is not x:
            if fixed is UNFIT:
                notes.add((path, key), note, x, fixer.expected)
                dropped = [*(dropped or ()), key]
            else:
                value[key] = fixed  # an existing key: safe while iterating
    for key in dropped or ():
        del value[key]


class _Struct(_Fixer):
    """A plain Struct from a JSON object; a field value that cannot fit is left out, so
    the field keeps its default. Fields are compiled on first use (models nest
    themselves)."""

    __slots__ = ("cls", "fields", "required")

    def __init__(self, cls: type[msgspec.Struct]) -> None:
        super().__init__(cls.__name__)
        self.cls = cls
        self.fields: dict[str, _Fixer | None] | None = None
        self.required: tuple[str, ...] = ()

    def _compile(self) -> dict[str, _Fixer | None]:
        fields: dict[str, _Fixer | None] = {}
        required = []
        for info in msgspec.structs.fields(self.cls):
            fields[info.encode_name] = _fixer(info.type)
            if info.required:
                required.append(info.encode_name)
        self.required = tuple(required)
        self.fields = fields
        return fields

    def fix(self, value: Any, path: _Path, notes: _Notes) -> Any:
        if type(value) is not dict:
            return UNFIT
        fields = self.fields if self.fields is not None else self._compile()
        # A key without a fixer is unknown (ignored by the decode) or Any; a dropped key
        # leaves its field at the default.
        _fix_members(value, fields.get, path, notes, _DEFAULTED)
        for key in self.required:
            if key not in value:
                return UNFIT
        return value


_FIXERS: dict[Any, _Fixer | None] = {}

_SCALARS: dict[Any, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    float: (int, float),
    bool: (bool,),
    type(None): (type(None),),
}


def _name(type_: Any) -> str:
    """A type as the notes show it: ``list[DeviceTagFilterItem] | None``."""
    if type_ is type(None):
        return "None"
    origin, args = typing.get_origin(type_), typing.get_args(type_)
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(_name(a) for a in args)
    if origin is not None and args and isinstance(origin, type):
        return f"{origin.__name__}[{', '.join(_name(a) for a in args)}]"
    if isinstance(type_, type):
        return type_.__name__
    return str(type_).replace("typing.", "")


def _fixer(type_: Any) -> _Fixer | None:
    """The cached fixer for a type; None for a type that takes anything (``Any``)."""
    try:
        return _FIXERS[type_]
    except KeyError:
        pass
    except TypeError:  # an unhashable annotation
        return _build(type_)
    fixer = _FIXERS[type_] = _build(type_)
    return fixer


def _build(type_: Any) -> _Fixer | None:
    if type_ is Any or type_ is object:
        return None
    origin, args = typing.get_origin(type_), typing.get_args(type_)
    name = _name(type_)
    if type_ in _SCALARS:
        return _Scalar(type_, _SCALARS[type_], name)
    if type_ is dt.datetime:
        return _DateTime(name)
    if isinstance(type_, type) and issubclass(type_, msgspec.Struct):
        config = type_.__struct_config__
        if config.tag is None and not config.array_like and not config.forbid_unknown_fields:
            # Registered before its fields compile: a model may contain itself.
            fixer = _FIXERS[type_] = _Struct(type_)
            return fixer
    if origin is list and len(args) == 1:
        return _List(type_, _fixer(args[0]), name)
    if origin is dict and len(args) == 2 and args[0] is str:
        return _Dict(_fixer(args[1]), name)
    if origin is typing.Union or origin is types.UnionType:
        members = [m for m in map(_fixer, args) if m is not None]
        if len(members) < len(args):
            return None  # a member takes anything
        if len(args) == 2 and type(None) in args:
            return _Optional(members[1 - args.index(type(None))], name)
        by_kind: dict[type, _Fixer] = {}
        for arg, member in zip(args, members, strict=True):
            for kind in _kinds(arg):
                by_kind.setdefault(kind, member)
        return _Union(members, by_kind, name)
    return _Scalar(type_, (), name)


def _kinds(type_: Any) -> tuple[type, ...]:
    """The Python types of the decoded JSON values a member of a union takes as is."""
    if type_ in _SCALARS:
        return _SCALARS[type_]
    if type_ is dt.datetime:
        return (str,)
    origin = typing.get_origin(type_) or type_
    if origin is list:
        return (list,)
    if origin is dict or (isinstance(origin, type) and issubclass(origin, msgspec.Struct)):
        return (dict,)
    return ()


def repair(type_: Any, value: Any) -> tuple[Any, _Repairs]:
    """Fit decoded builtins ``value`` to ``type_``: the typed result and the repairs made.

    Raises :class:`msgspec.ValidationError` when the value cannot fit at the top.
    """
    notes = _Notes()
    fixer = _fixer(type_)
    if fixer is not None:
        fixed = fixer.fix(value, _ROOT, notes)
        if fixed is UNFIT:
            raise msgspec.ValidationError(f"Expected `{fixer.expected}`, got `{_kind(value)}`")
        value = fixed
    return msgspec.convert(value, type_, strict=False), _Repairs(notes.raw)


def _summary(repairs: _Repairs) -> str:
    """The kinds of repair, each once, list indexes as ``[*]``: ``$.counts[*].value: string
    does not fit int | None; default kept``.

    A warning's text is this alone (no IDs, no indexes, no values), so Python shows each
    kind of drift once, and its registry of texts shown stays small in a long-lived
    process.
    """
    kinds: dict[tuple[Any, ...], Any] = {}
    for path, template, value, expected in repairs._raw:
        keys: list[str | None] = []
        while path:  # as _keys, indexes as None, inlined: this runs once per repair
            path, key = path
            keys.append(None if type(key) is int else key)
        kinds.setdefault((tuple(keys), template, type(value), expected), value)
    texts = list(
        dict.fromkeys(
            f"{_format_path(keys[::-1])}: {template.format(kind=_kind(value), expected=expected)}"
            for (keys, template, _, expected), value in kinds.items()
        )
    )
    more = f"; and {len(texts) - _SHOWN} more" if len(texts) > _SHOWN else ""
    return "; ".join(texts[:_SHOWN]) + more


_SHOWN = 8  # kinds of repair named in a warning's text (all are on its ``repairs``)


def decode_leniently(
    decoder: msgspec.json.Decoder[Any],
    body: bytes | str,
    error: msgspec.DecodeError | RecursionError,
    *,
    what: str,
    status: int,
    method: str,
    path: str,
) -> Any:
    """Decode ``body``, which ``decoder`` refused with ``error``, repairing what does not fit.

    Warns :class:`LosantDecodeWarning` naming each repaired value; raises
    :class:`~losant_async.DecodeError` with the raw body when the body is not JSON, is
    nested too deeply to decode, or cannot fit at the top.
    """
    raw = body.encode() if isinstance(body, str) else body
    model = decoder.type
    name = _name(model)
    failure: Exception = error
    if isinstance(error, msgspec.ValidationError):  # JSON, but of the wrong shape
        try:
            value, repairs = repair(model, msgspec.json.decode(body))
        except (msgspec.DecodeError, RecursionError) as exc:
            failure = exc
        else:
            message = f"{what} repaired to fit {name}: {_summary(repairs)}"
            logger.debug("%s %s -> %d: %d value(s) %s", method, path, status, len(repairs), message)
            warning = LosantDecodeWarning(
                message, repairs=repairs, body=raw, status=status, method=method, path=path
            )
            warnings.warn(warning, stacklevel=2)
            return value
    reason = "nested too deeply" if isinstance(failure, RecursionError) else str(failure)
    raise DecodeError(
        f"{what} does not fit {name}: {reason}", status=status, method=method, path=path, body=raw
    ) from None
