"""Plain-HTTP helpers for the local server's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp
import msgspec

from losant_async.testing import FakeLosant, encode_request

# The fixed clock of the tests' servers: an awkward instant (between 01:00 and 02:00 UTC, so
# "an hour ago" falls on a day boundary) that no answer may depend on the real time of.
NOW = datetime(2026, 3, 1, 1, 30, 0, 250_000, tzinfo=UTC)
NOW_MS = 1_772_328_600_250
HOUR = 3_600_000
DAY = 24 * HOUR


class Reply(msgspec.Struct):
    """Status, headers and decoded JSON body (None when empty or not JSON)."""

    status: int
    headers: dict[str, str]
    body: Any
    raw: bytes


@asynccontextmanager
async def session(server: FakeLosant) -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP session on ``server`` with its token."""
    headers = {"Authorization": f"Bearer {server.token}"}
    async with aiohttp.ClientSession(base_url=server.url, headers=headers) as http:
        yield http


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
            form.add_field(name, value, filename=filename)  # None: a plain field
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
