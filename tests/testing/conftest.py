"""Fixtures for the local server's own tests: a fresh server and an HTTP session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from losant_async.testing import FakeLosant

from .fakehttp import NOW


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def server() -> AsyncIterator[FakeLosant]:
    async with FakeLosant(now=NOW) as srv:
        yield srv


@pytest.fixture
async def http(server: FakeLosant) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bearer {server.token}"}
    async with aiohttp.ClientSession(base_url=server.url, headers=headers) as session:
        yield session
