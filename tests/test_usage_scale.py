"""A scrape of an instance of 200 orgs, 50 sandboxes and 1,000 applications equals the
local server's own numbers row for row, none twice; also when a tenth of the requests
answer 503 and a tenth lose their connection (the client retries)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from losant_async import LosantClient, RetryPolicy
from losant_async.testing import FakeLosant, ResetAfter, ResetBefore, Status
from losant_async.usage import RESOURCE_TYPES, ScrapeSummary, UsageRow, scrape_usage
from tests.usage_truth import END, START, keyed, truth

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(300)]

ORGS, SANDBOXES, APPS_PER_ORG = 200, 50, 5


@pytest.fixture
async def server() -> AsyncIterator[FakeLosant]:
    async with FakeLosant(orgs=ORGS, sandboxes=SANDBOXES, apps_per_org=APPS_PER_ORG) as srv:
        yield srv


async def scrape(server: FakeLosant) -> tuple[list[UsageRow], ScrapeSummary]:
    retry = RetryPolicy(max_retries=25, backoff_base=0.001, backoff_max=0.01, budget=None)
    async with (
        LosantClient(server.token, base_url=server.url, retry=retry) as client,
        scrape_usage(
            client,
            instance_id=server.ids.instance_id,
            start=START,
            end=END,
            include=RESOURCE_TYPES,
        ) as running,
    ):
        rows = [row async for row in running]
    assert running.summary.errors == 0
    return rows, running.summary


def check(server: FakeLosant, rows: list[UsageRow]) -> None:
    state = server.state
    assert len(state.orgs) == ORGS
    assert sum(not box.deleted for box in state.sandboxes.values()) == SANDBOXES
    assert sum(len(org.app_ids) for org in state.orgs.values()) == ORGS * APPS_PER_ORG
    got = keyed(rows)
    assert set(got.values()) == {1}  # no row twice
    assert got == truth(server, include=RESOURCE_TYPES)


async def test_a_large_instance_row_for_row(server: FakeLosant) -> None:
    rows, summary = await scrape(server)
    check(server, rows)
    assert summary.retries == 0


async def test_a_large_instance_with_503s_and_resets_row_for_row(server: FakeLosant) -> None:
    status = server.faults.add(Status(status=503), rate=0.1)
    before = server.faults.add(ResetBefore(), rate=0.05)
    after = server.faults.add(ResetAfter(), rate=0.05)
    rows, summary = await scrape(server)
    assert status.hits > 0 and before.hits > 0 and after.hits > 0
    assert status.hits <= summary.retries  # each 503 was retried
    check(server, rows)
