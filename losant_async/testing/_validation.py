"""Request checking: the token, and path, query, body and multipart params, as the API
checks them; a request that passes becomes a :class:`Call`."""

from __future__ import annotations

import asyncio
import re
from typing import cast
from urllib.parse import parse_qsl

import msgspec
from aiohttp import MultipartReader, web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.streams import StreamReader
from multidict import MultiMapping

from ._call import Call, ErrorAnswer, invalid, not_found, unauthorized
from ._router import path_params
from ._schema import JSON, Schemas
from ._spec import ActionSpec, Api, ParamSpec

_INDEXED = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<index>\d*)\]$")


async def validate(
    api: Api,
    schemas: Schemas,
    token: str,
    request: web.Request,
    action: ActionSpec | None,
    segments: list[str],
    body: bytes,
) -> Call:
    """The request as a :class:`Call`, or the :class:`ErrorAnswer` Losant would give."""
    if action is None:
        raise not_found(f"Route {request.method} {request.rel_url.raw_path} was not found")
    if action.needs_auth:
        check_token(request.headers.get("Authorization"), token)
    params = path_params(action, segments)
    check_path(action, params, schemas)
    query = check_query(action, api, schemas, request.rel_url.query)
    headers = dict(request.headers)
    if action.params_in("multipart"):
        content_type = request.headers.get("Content-Type", "")
        fields, files = await check_multipart(action, schemas, content_type, body)
        return Call(action, params, query, fields or None, files, headers)
    return Call(action, params, query, check_body(action, schemas, body), {}, headers)


def check_token(header: str | None, token: str) -> None:
    if header is None:
        raise unauthorized("Authorization header is missing")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise unauthorized("Authorization header must be a Bearer token")
    if value.strip() != token:
        raise unauthorized("Invalid access token")


# Paging params and their least value: Losant refuses anything but a whole number in range.
_COUNTS = {"page": 0, "perPage": 1, "limit": 1}


def _check_scalar(p: ParamSpec, value: str, schemas: Schemas) -> None:
    least = _COUNTS.get(p.name)
    if least is not None and not (value.isascii() and value.isdigit() and int(value) >= least):
        raise invalid(f"{p.name} must be an integer of at least {least}")
    if p.enum is not None and value not in {_as_text(e) for e in p.enum}:
        allowed = ", ".join(_as_text(e) for e in p.enum)
        raise invalid(f"{p.name} must be one of: {allowed}")
    if p.pattern is not None and not schemas.regex(p.pattern).search(value):
        raise invalid(f"{p.name} must match the pattern {p.pattern}")


def _as_text(value: JSON) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decode_structured(p: ParamSpec, raw: str, schemas: Schemas) -> JSON:
    """An object/schema-typed param arrives as JSON text; a bare string is accepted where
    the schema allows a string (``deviceClass=gateway``)."""
    assert p.schema is not None
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        if schemas.is_valid({"$ref": f"#/definitions/{p.schema}"}, raw):
            return raw
        raise invalid(f"{p.name} must be valid JSON") from None
    problem = schemas.error({"$ref": f"#/definitions/{p.schema}"}, value, p.name)
    if problem is not None:
        raise invalid(problem)
    return value


def _bracketed(name: str, query: MultiMapping[str]) -> JSON:
    """A structured filter sent flattened, as the official clients do
    (``tagFilter[0][key]=floor&tagFilter[0][value]=2``), rebuilt: maps whose keys are
    0..n-1 become lists. None when no such key was sent."""
    root: dict[str, JSON] = {}
    prefix = name + "["
    for key, value in query.items():
        if not key.startswith(prefix) or not key.endswith("]"):
            continue
        parts = key[len(prefix) : -1].split("][")
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise invalid(f"{name} mixes a value and nested keys at {key}")
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise invalid(f"{name} mixes a value and nested keys at {key}")
        node[parts[-1]] = value
    return _listify(root) if root else None


def _listify(node: JSON) -> JSON:
    if not isinstance(node, dict):
        return cast(JSON, node)
    items = {k: _listify(v) for k, v in node.items()}
    if all(k.isdigit() for k in items) and sorted(map(int, items)) == list(range(len(items))):
        return [items[str(i)] for i in range(len(items))]
    return items


def _array_values(name: str, query: MultiMapping[str]) -> list[str] | None:
    indexed: list[tuple[int, str]] = []
    plain: list[str] = []
    for key, value in query.items():
        if key == name:
            plain.append(value)
            continue
        m = _INDEXED.match(key)
        if m and m.group("name") == name:
            idx = m.group("index")
            indexed.append((int(idx) if idx else len(indexed), value))
    if not indexed and not plain:
        return None
    return [v for _, v in sorted(indexed)] + plain


def check_query(
    action: ActionSpec, api: Api, schemas: Schemas, query: MultiMapping[str]
) -> dict[str, JSON]:
    """Parsed values of the declared query params that were sent."""
    out: dict[str, JSON] = {}
    for p in api.query_params(action):
        if p.type == "array":
            values = _array_values(p.name, query)
            if values is None:
                if p.required:
                    raise invalid(f"{p.name} is required")
                continue
            for v in values:
                _check_scalar(p, v, schemas)
            out[p.name] = values
            continue
        raw = query.get(p.name)
        if p.schema is not None and p.type != "object":
            nested = _bracketed(p.name, query)
            if nested is not None:
                problem = schemas.error({"$ref": f"#/definitions/{p.schema}"}, nested, p.name)
                if problem is not None:
                    raise invalid(problem)
                out[p.name] = nested
                continue
        if raw is None:
            if p.required:
                raise invalid(f"{p.name} is required")
            continue
        if p.schema is not None:
            out[p.name] = _decode_structured(p, raw, schemas)
        elif p.type == "boolean":
            if raw not in ("true", "false"):
                raise invalid(f"{p.name} must be true or false")
            out[p.name] = raw == "true"
        else:
            _check_scalar(p, raw, schemas)
            out[p.name] = raw
    return out


def check_path(action: ActionSpec, params: dict[str, str], schemas: Schemas) -> None:
    for p in action.params_in("path"):
        value = params.get(p.name)
        if value is None:
            raise invalid(f"{p.name} is required")
        _check_scalar(p, value, schemas)


def check_body(action: ActionSpec, schemas: Schemas, raw: bytes) -> JSON:
    p = action.body_param
    if p is None:
        return None
    if not raw.strip():
        if p.required:
            raise invalid(f"{p.name} is required")
        return None
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise invalid("The request body is not valid JSON") from None
    if p.schema is not None:
        problem = schemas.error({"$ref": f"#/definitions/{p.schema}"}, value, p.name)
        if problem is not None:
            raise invalid(problem)
    return value


async def _read_parts(content_type: str, raw: bytes) -> list[tuple[str, str | None, bytes]]:
    proto = BaseProtocol(asyncio.get_running_loop())
    stream = StreamReader(proto, max(1 << 16, len(raw) + 1), loop=asyncio.get_running_loop())
    stream.feed_data(raw)
    stream.feed_eof()
    reader = MultipartReader({"Content-Type": content_type}, stream)
    parts: list[tuple[str, str | None, bytes]] = []
    while True:
        part = await reader.next()
        if part is None:
            break
        if isinstance(part, MultipartReader):
            raise invalid("Nested multipart bodies are not supported")
        parts.append((part.name or "", part.filename, await part.read(decode=True)))
    return parts


async def check_multipart(
    action: ActionSpec, schemas: Schemas, content_type: str, raw: bytes
) -> tuple[dict[str, JSON], dict[str, bytes]]:
    """Fields and files of an upload; object fields are JSON text."""
    specs = action.params_in("multipart")
    if not specs:
        return {}, {}
    parts: list[tuple[str, str | None, bytes]] = []
    if content_type.lower().startswith("multipart/"):
        try:
            parts = await _read_parts(content_type, raw)
        except ErrorAnswer:
            raise
        except Exception:
            raise invalid("The multipart body could not be parsed") from None
    elif content_type.lower().startswith("application/x-www-form-urlencoded"):
        text = raw.decode("utf-8", "replace")
        parts = [(k, None, v.encode()) for k, v in parse_qsl(text, keep_blank_values=True)]
    elif raw.strip():
        raise invalid("The request body must be multipart/form-data")
    by_name = {name: (filename, data) for name, filename, data in parts}
    fields: dict[str, JSON] = {}
    files: dict[str, bytes] = {}
    for p in specs:
        if p.name not in by_name:
            if p.required:
                raise invalid(f"{p.name} is required")
            continue
        _, data = by_name[p.name]
        if p.type == "file":
            files[p.name] = data
            continue
        try:
            text = data.decode()
        except UnicodeDecodeError:
            raise invalid(f"{p.name} must be UTF-8 text") from None
        if p.schema is not None:
            fields[p.name] = _decode_structured(p, text, schemas)
        else:
            _check_scalar(p, text, schemas)
            fields[p.name] = text
    return fields, files
