"""The request encoding as it was before per-action encoders: kept here, in the tests only,
as the reference the compiled encoders must match byte for byte and error for error."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

# Shared, not copied: the checks and conversions of single values (patterns, path
# segments, scalars, bodies, multipart fields, structured query values), which have
# tests of their own. What is compared is what the per-action encoders compile: which
# check runs for which parameter and in what order (so which error wins), where each
# value goes, and the query's quoting (cached there, plain here).
from losant_async._action import Action, Param
from losant_async._encoding import (
    EncodedRequest,
    _body,
    _multipart_field,
    _pattern,
    add_query,
    query_value,
)
from losant_async._encoding import (
    _check_pattern as check_pattern,
)
from losant_async._encoding import (
    _path_value as path_value,
)

GLOBAL_QUERY = ("_actions", "_links", "_embedded")


def encode_query(pairs: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


def encode_params(params: Mapping[str, Any] | None) -> str:
    """A caller's free-form query (``client.request``, ``client.stream``), by the same rules."""
    pairs: list[tuple[str, str]] = []
    for name, value in (params or {}).items():
        add_query(pairs, name, "string", value)
    return encode_query(pairs)


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


def _regex(param: Param) -> re.Pattern[str] | None:
    return _pattern(param.pattern) if param.pattern else None


def _check_pattern(param: Param, value: Any) -> None:
    check_pattern(param, value, _regex(param))


def _path_value(param: Param, value: Any) -> str:
    return path_value(param, value, _regex(param))
