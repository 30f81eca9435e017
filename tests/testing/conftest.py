"""Fixtures for the local server's own tests: a plain HTTP session on ``server``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from losant_async.testing import FakeLosant

from .fakehttp import session


@pytest.fixture
async def http(server: FakeLosant) -> AsyncIterator[aiohttp.ClientSession]:
    async with session(server) as http:
        yield http
