"""Plain-HTTP helpers for the local server's tests."""

from __future__ import annotations

from typing import Any

import aiohttp
import msgspec

from losant_async.testing import encode_request


class Reply(msgspec.Struct):
    """Status, headers and decoded JSON body (None when empty or not JSON)."""

    status: int
    headers: dict[str, str]
    body: Any
    raw: bytes


async def call(
    http: aiohttp.ClientSession, qualname: str, args: dict[str, Any], **query: str
) -> Reply:
    """Send action ``qualname`` with ``args`` (API param names), plus extra query params."""
    req = encode_request(qualname, args)
    params = [*req.query, *query.items()]
    kwargs: dict[str, Any] = {"params": params, "headers": req.headers}
    if req.files is not None:
        form = aiohttp.FormData()
        for name, value, filename in req.files:
            if filename is None:
                form.add_field(name, value)
            else:
                form.add_field(name, value, filename=filename)
        kwargs["data"] = form
    elif req.json is not None:
        kwargs["json"] = req.json
    async with http.request(req.method, req.path, **kwargs) as resp:
        raw = await resp.read()
        return reply(resp, raw)


def reply(resp: aiohttp.ClientResponse, raw: bytes) -> Reply:
    body: Any = None
    if raw and resp.content_type == "application/json":
        body = msgspec.json.decode(raw)
    return Reply(resp.status, dict(resp.headers), body, raw)


async def get(http: aiohttp.ClientSession, path: str, **kwargs: Any) -> Reply:
    return await send(http, "GET", path, **kwargs)


async def send(http: aiohttp.ClientSession, method: str, path: str, **kwargs: Any) -> Reply:
    async with http.request(method, path, **kwargs) as resp:
        return reply(resp, await resp.read())


class SSE(msgspec.Struct):
    """One server-sent event as parsed from the wire."""

    event: str
    data: str
    id: str | None = None


async def read_event(resp: aiohttp.ClientResponse, *, keepalives: bool = False) -> SSE | None:
    """The next event of a stream (keepalives skipped unless asked); None at the end."""
    fields: dict[str, str] = {}
    while True:
        line = await resp.content.readline()
        if not line:
            return None
        text = line.decode().rstrip("\n")
        if text:
            name, _, value = text.partition(": ")
            fields[name] = value
            continue
        if not fields:
            continue
        event = SSE(fields.get("event", "message"), fields.get("data", ""), fields.get("id"))
        fields = {}
        if event.event == "keepAlive" and not keepalives:
            continue
        return event
