"""A pytest plugin (loaded through the ``pytest11`` entry point once losant-async is
installed): ``fake_losant``, a running :class:`~losant_async.testing.FakeLosant` per test.

::

    from datetime import UTC, datetime

    import pytest


    @pytest.mark.anyio
    @pytest.mark.fake_losant(orgs=5, now=datetime(2026, 1, 1, tzinfo=UTC))
    async def test_orgs(fake_losant):
        ...

The server's options (``FakeLosant``'s keyword arguments) are those of the
``fake_losant_options`` fixture (a dict, empty unless a ``conftest.py`` overrides it to set
defaults for a whole suite), updated by the ``fake_losant`` markers of the module, the
class and the test, the closest last. The server closes after the test. The fixture is a
coroutine: run the test under anyio (``@pytest.mark.anyio``) or pytest-asyncio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ._server import FakeLosant

MARKER = "fake_losant"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): FakeLosant keyword arguments for the fake_losant fixture",
    )


@pytest.fixture
def fake_losant_options() -> dict[str, Any]:
    """Options every ``fake_losant`` of the suite starts from (override in a conftest)."""
    return {}


def marked_options(node: pytest.Item, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` updated by the ``fake_losant`` markers on ``node``, the closest last."""
    options = dict(base)
    for marker in reversed(list(node.iter_markers(MARKER))):
        if marker.args:
            raise TypeError(f"@pytest.mark.{MARKER} takes keyword arguments only")
        options.update(marker.kwargs)
    return options


@pytest.fixture
async def fake_losant(
    request: pytest.FixtureRequest, fake_losant_options: dict[str, Any]
) -> AsyncIterator[FakeLosant]:
    """A running local Losant server, configured by ``fake_losant`` markers."""
    async with FakeLosant(**marked_options(request.node, fake_losant_options)) as server:
        yield server
