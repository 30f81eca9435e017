"""Shared fixtures: the local Losant server on a fixed clock (``server``, the plugin's
``fake_losant``), and a scripted HTTP server on 127.0.0.1 for transport-level tests."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from losant_async.testing import FakeLosant

from .testing.fakehttp import NOW

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_losant_options() -> dict[str, Any]:
    """Every local server of the suite runs on a fixed clock."""
    return {"now": NOW}


@pytest.fixture
def server(fake_losant: FakeLosant) -> FakeLosant:
    """The plugin's ``fake_losant``, configured by ``@pytest.mark.fake_losant(...)``."""
    return fake_losant


@dataclass
class Seen:
    """A request as it arrived."""

    method: str
    path: str
    raw_path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Scripted:
    """A real HTTP server whose answers a test scripts, one handler per request."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    script: list[Handler] = field(default_factory=list)
    fallback: Handler | None = None
    in_flight: int = 0
    peak: int = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(
            Seen(
                request.method,
                request.path,
                request.raw_path,
                list(request.query.items()),
                dict(request.headers),
                body,
            )
        )
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            handler = self.script.pop(0) if self.script else self.fallback
            if handler is None:
                return web.json_response(
                    {"type": "NotFound", "message": "nothing scripted"}, status=404
                )
            return await handler(request)
        finally:
            self.in_flight -= 1


def reply(status: int = 200, body: Any = None, **headers: str) -> Handler:
    """A handler answering ``status`` with a JSON ``body`` (or raw bytes)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if isinstance(body, bytes):
            return web.Response(status=status, body=body, headers=headers)
        return web.json_response(body if body is not None else {}, status=status, headers=headers)

    return handler


def drop() -> Handler:
    """A handler that closes the connection without answering."""

    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.abort()
        return web.Response()

    return handler


async def exhaust(items: AsyncIterable[object]) -> None:
    """Iterate ``items`` to its end, or to the error a test expects of it."""
    async for _ in items:
        pass


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    server = Scripted()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}"
    yield server
    await runner.cleanup()
