"""A usage scrape through the client, starting from nothing but the token.

From ``instances.get`` it walks every org (page by page), every sandbox (cursor by cursor)
and every application of each, then fetches payload counts, device counts, notebook
minutes and the payload breakdown of every one of them concurrently. The numbers must add
up the way the local server has them: an org's or sandbox's are the sums of its
applications', the instance's the sums of its orgs' and sandboxes'.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import msgspec
import pytest

from losant_async import LosantClient
from losant_async.testing import FakeLosant, Latency

from .fakehttp import DAY, HOUR, NOW_MS

pytestmark = [pytest.mark.anyio, pytest.mark.fake_losant(orgs=7, sandboxes=3, apps_per_org=3)]

PAGE = 2  # smaller than every list, so each one takes several requests
METRICS = ("payload_counts", "device_counts", "notebook_minute_counts", "payload_counts_breakdown")

Usage = Counter[tuple[Any, ...]]


async def paged(fetch: Callable[..., Awaitable[Any]]) -> list[Any]:
    """Every item of a ``page``/``perPage`` list."""
    items: list[Any] = []
    page = 0
    while True:
        body = await fetch(page=page, per_page=PAGE)
        assert body.page == page and body.count == len(body.items) <= PAGE
        items += body.items
        page += 1
        if page * PAGE >= body.total_count:
            return items


async def cursored(fetch: Callable[..., Awaitable[Any]]) -> list[Any]:
    """Every item of a ``startingAfterId``/``limit`` list."""
    items: list[Any] = []
    after = None
    while True:
        body = await fetch(limit=PAGE, starting_after_id=after)
        assert body.count == len(body.items) <= PAGE
        items += body.items
        if not body.has_more:
            return items
        after = body.items[-1].id


def flat(metric: str, answer: Any) -> Usage:
    """One usage answer as counts keyed by (metric, what, ...)."""
    out: Usage = Counter()
    if metric == "payload_counts":
        for kind, sources in msgspec.structs.asdict(answer).items():
            for source, count in (sources or {}).items():
                out[(metric, kind, source)] += count
        return out
    for entry in answer.counts:
        fields = msgspec.structs.asdict(entry)
        date = fields.pop("date")
        for name, value in fields.items():
            out[(metric, date, name)] += value
    return out


def summed(parts: list[Usage]) -> Usage:
    total: Usage = Counter()
    for part in parts:
        total.update(part)
    return total


async def test_usage_scrape_from_the_instance_list(server: FakeLosant) -> None:
    end = (NOW_MS // HOUR - 1) * HOUR
    window = {"start": end - 10 * DAY, "end": end}
    server.faults.add(Latency(0.01))  # so that concurrent requests overlap
    started = time.perf_counter()
    async with LosantClient(server.token, base_url=server.url) as client:
        instances = await paged(client.instances.get)
        assert [i.id for i in instances] == [server.ids.instance_id]
        (instance,) = instances
        inst = instance.id
        assert (await client.instance.get(instance_id=inst)).name == instance.name

        orgs = await paged(lambda **kw: client.instance_orgs.get(instance_id=inst, **kw))
        boxes = await cursored(lambda **kw: client.instance_sandboxes.get(instance_id=inst, **kw))
        org_apps: dict[str, list[Any]] = {}

        async def apps_of(org_id: str) -> None:
            org_apps[org_id] = await paged(
                lambda **kw: client.applications.get(org_id=org_id, **kw)
            )

        async with anyio.create_task_group() as tg:
            for org in orgs:
                tg.start_soon(apps_of, org.id)
        # applications.get filters by org only: sandbox applications are found by owner.
        every_app = await paged(client.applications.get)
        box_apps = {b.id: [a for a in every_app if a.owner_id == b.id] for b in boxes}
        listed = time.perf_counter()

        # Every level's four usage answers, all at once.
        calls: dict[tuple[str, str], tuple[Any, dict[str, str]]] = {
            ("instance", inst): (client.instance, {"instance_id": inst})
        }
        for org in orgs:
            calls[("org", org.id)] = (client.instance_org, {"instance_id": inst, "org_id": org.id})
        for box in boxes:
            box_ids = {"instance_id": inst, "instance_sandbox_id": box.id}
            calls[("sandbox", box.id)] = (client.instance_sandbox, box_ids)
        for app in [a for apps in (*org_apps.values(), *box_apps.values()) for a in apps]:
            calls[("app", app.id)] = (client.application, {"application_id": app.id})
        usage: dict[tuple[str, str], Usage] = {key: Counter() for key in calls}
        answers: dict[tuple[tuple[str, str], str], Any] = {}

        async def fetch(key: tuple[str, str], metric: str) -> None:
            resource, args = calls[key]
            answer = await getattr(resource, metric)(**args, **window)
            answers[(key, metric)] = answer
            usage[key].update(flat(metric, answer))

        async with anyio.create_task_group() as tg:
            for key in calls:
                for metric in METRICS:
                    tg.start_soon(fetch, key, metric)
    done = time.perf_counter()

    ids = server.ids
    # Every org, sandbox and application, each exactly once.
    assert sorted(o.id for o in orgs) == sorted(ids.org_ids)
    assert sorted(b.id for b in boxes) == sorted(ids.sandbox_ids)
    visited = Counter(a.id for apps in (*org_apps.values(), *box_apps.values()) for a in apps)
    assert set(visited.values()) == {1}
    assert sorted(visited) == sorted(ids.application_ids) == sorted(a.id for a in every_app)
    assert len(visited) == 7 * 3 + 3
    for org in orgs:
        assert sorted(a.id for a in org_apps[org.id]) == sorted(ids.org_application_ids[org.id])
        assert org.summary.app_count == len(org_apps[org.id])
    for box in boxes:
        assert [a.id for a in box_apps[box.id]] == ids.sandbox_application_ids[box.id]
        assert box.summary.app_count == len(box_apps[box.id])

    # Applications add up to their org or sandbox; orgs and sandboxes to the instance.
    for org in orgs:
        parts = [usage[("app", a.id)] for a in org_apps[org.id]]
        assert usage[("org", org.id)] == summed(parts), org.name
        devices = answers[(("org", org.id), "device_counts")].counts
        assert {c.total for c in devices} == {org.summary.device_count}
    for box in boxes:
        parts = [usage[("app", a.id)] for a in box_apps[box.id]]
        assert usage[("sandbox", box.id)] == summed(parts), box.email
    levels = [usage[("org", o.id)] for o in orgs] + [usage[("sandbox", b.id)] for b in boxes]
    assert usage[("instance", inst)] == summed(levels)
    assert sum(usage[("instance", inst)].values()) > 0
    for metric in METRICS:  # each metric has numbers, not only the sum of them all
        assert any(k[0] == metric and v for k, v in usage[("instance", inst)].items())

    requests = len(server.journal)
    print(
        f"scrape of {len(orgs)} orgs, {len(boxes)} sandboxes, {len(visited)} apps: "
        f"{requests} requests, listing {listed - started:.3f}s, "
        f"usage {done - listed:.3f}s, peak in flight {server.stats.peak_in_flight}"
    )
    assert len(calls) * len(METRICS) == 4 * (1 + 7 + 3 + 24)
    assert 1 < server.stats.peak_in_flight <= 32  # the client's max_concurrency
    assert all(e.status == 200 for e in server.journal)
