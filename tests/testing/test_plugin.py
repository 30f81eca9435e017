"""The pytest plugin: ``fake_losant`` made from ``fake_losant_options`` and the markers of
the module, the class and the test, the closest winning."""

from __future__ import annotations

from typing import Any

import pytest

from losant_async.testing import FakeLosant
from losant_async.testing.pytest_plugin import marked_options

from .fakehttp import NOW_MS

pytestmark = [pytest.mark.anyio, pytest.mark.fake_losant(orgs=4, seed=7)]


async def test_the_module_marker_over_the_suite_options(fake_losant: FakeLosant) -> None:
    assert len(fake_losant.ids.org_ids) == 4 and fake_losant.seed == 7
    assert fake_losant.clock() == NOW_MS  # tests/conftest.py: fake_losant_options
    assert fake_losant.url.startswith("http://127.0.0.1:")


@pytest.mark.fake_losant(orgs=1, sandboxes=0)
class TestClassMarkers:
    async def test_the_class_marker_over_the_module_one(self, fake_losant: FakeLosant) -> None:
        ids = fake_losant.ids
        assert (len(ids.org_ids), ids.sandbox_ids, fake_losant.seed) == (1, [], 7)

    @pytest.mark.fake_losant(orgs=2, token="closest")
    async def test_the_test_marker_is_the_closest(self, fake_losant: FakeLosant) -> None:
        ids = fake_losant.ids
        assert (len(ids.org_ids), ids.sandbox_ids, fake_losant.seed) == (2, [], 7)
        assert fake_losant.token == "closest"


@pytest.mark.parametrize("fake_losant_options", [{"token": "from-options", "orgs": 9}])
async def test_markers_update_the_options_fixture(fake_losant: FakeLosant) -> None:
    assert fake_losant.token == "from-options"
    assert len(fake_losant.ids.org_ids) == 4  # the module's marker wins over the options


class _Node:
    def __init__(self, *markers: pytest.Mark) -> None:
        self.markers = markers

    def iter_markers(self, name: str) -> list[pytest.Mark]:
        return [m for m in self.markers if m.name == name]


def test_marker_arguments_are_keywords_only() -> None:
    closest, farther = pytest.mark.fake_losant(orgs=1).mark, pytest.mark.fake_losant(orgs=2).mark
    node: Any = _Node(closest, farther)
    assert marked_options(node, {"seed": 3, "orgs": 5}) == {"seed": 3, "orgs": 1}
    with pytest.raises(TypeError, match="keyword arguments only"):
        marked_options(_Node(pytest.mark.fake_losant(3).mark), {})  # type: ignore[arg-type]
