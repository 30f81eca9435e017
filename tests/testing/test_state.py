"""Stored objects, both pagination styles and usage numbers that add up."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from losant_async.testing import FakeLosant

from .fakehttp import DAY, HOUR, NOW_MS, call, get, send

pytestmark = pytest.mark.anyio

# Instants where a clock-dependent answer would show: just after midnight, the hour after
# midnight, the last millisecond of a month, of a leap day and of a year.
AWKWARD = (
    datetime(2026, 3, 1, 0, 0, 0, 1000, tzinfo=UTC),
    datetime(2026, 3, 1, 1, 30, tzinfo=UTC),
    datetime(2026, 1, 31, 23, 59, 59, 999_000, tzinfo=UTC),
    datetime(2028, 2, 29, 23, 59, 59, 999_000, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
)


def window(days: int = 10, now: int = NOW_MS) -> dict[str, str]:
    """``days`` days up to the last full hour before ``now``."""
    end = (now // HOUR - 1) * HOUR
    return {"start": str(end - days * DAY), "end": str(end)}


def total(stats: dict[str, dict[str, int]]) -> int:
    return sum(sum(sources.values()) for sources in stats.values())


async def test_org_create_get_patch_delete(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    base = f"/instances/{server.ids.instance_id}/orgs"
    created = await send(http, "POST", base, json={"name": "Zeta Works", "description": "d"})
    assert created.status == 200
    org_id = created.body["id"]
    assert created.body["name"] == "Zeta Works" and created.body["description"] == "d"
    assert org_id in server.ids.org_ids
    fetched = await get(http, f"{base}/{org_id}")
    assert fetched.status == 200 and fetched.body["name"] == "Zeta Works"
    patched = await send(http, "PATCH", f"{base}/{org_id}", json={"name": "Zeta Labs"})
    assert patched.body["name"] == "Zeta Labs"
    assert patched.body["lastUpdated"] >= fetched.body["lastUpdated"]
    listed = await get(http, base, params={"filterField": "name", "filter": "Zeta*"})
    assert [o["id"] for o in listed.body["items"]] == [org_id]
    deleted = await send(http, "DELETE", f"{base}/{org_id}")
    assert deleted.status == 200 and deleted.body == {"success": True}
    assert (await get(http, f"{base}/{org_id}")).status == 404
    assert (await send(http, "DELETE", f"{base}/{org_id}")).status == 404
    assert org_id not in server.ids.org_ids


async def test_unknown_ids_of_stored_kinds_are_404(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    other = "0" * 24
    ids = server.ids
    paths = [
        f"/instances/{other}",
        f"/instances/{ids.instance_id}/orgs/{other}",
        f"/instances/{ids.instance_id}/orgs/{other}/payloadCounts",
        f"/instances/{ids.instance_id}/sandboxes/{other}",
        f"/orgs/{other}",
        f"/applications/{other}",
        f"/applications/{other}/devices",
        f"/applications/{ids.application_id}/devices/{other}",
    ]
    for path in paths:
        result = await get(http, path)
        assert result.status == 404, path
        assert result.body["type"] == "NotFound"


@pytest.mark.fake_losant(orgs=7)
async def test_page_pagination_sorting_and_filter(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    path = f"/instances/{server.ids.instance_id}/orgs"
    pages = []
    for page in range(3):
        result = await get(http, path, params={"perPage": "3", "page": str(page)})
        assert result.status == 200
        body = result.body
        assert (body["page"], body["perPage"], body["totalCount"]) == (page, 3, 7)
        assert body["count"] == len(body["items"]) == [3, 3, 1][page]
        assert (body["sortField"], body["sortDirection"]) == ("name", "asc")
        assert "filter" not in body
        pages.extend(body["items"])
    names = [o["name"] for o in pages]
    assert names == sorted(names)
    assert {o["id"] for o in pages} == set(server.ids.org_ids)
    beyond = await get(http, path, params={"perPage": "3", "page": "9"})
    assert beyond.body["items"] == [] and beyond.body["totalCount"] == 7

    desc = await get(http, path, params={"sortDirection": "desc", "perPage": "100"})
    assert [o["name"] for o in desc.body["items"]] == sorted(names, reverse=True)
    by_date = await get(http, path, params={"sortField": "creationDate"})
    dates = [o["creationDate"] for o in by_date.body["items"]]
    assert dates == sorted(dates)

    params = {"filterField": "name", "filter": "*org 1"}
    filtered = await get(http, path, params=params)
    assert [o["name"].endswith("Org 1") for o in filtered.body["items"]] == [True]
    assert filtered.body["filter"] == "*org 1"
    assert filtered.body["filterField"] == "name"
    assert filtered.body["totalCount"] == 1


@pytest.mark.fake_losant(sandboxes=7)
async def test_cursor_pagination_walks_all_items(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    path = f"/instances/{server.ids.instance_id}/sandboxes"
    seen: list[dict[str, Any]] = []
    params = {"limit": "3"}
    while True:
        body = (await get(http, path, params=params)).body
        assert body["limit"] == 3 and body["count"] == len(body["items"])
        seen.extend(body["items"])
        if not body["hasMore"]:
            break
        params = {"limit": "3", "startingAfterId": body["items"][-1]["id"]}
    assert len(seen) == 7
    assert {s["id"] for s in seen} == set(server.ids.sandbox_ids)
    emails = [s["email"] for s in seen]
    assert emails == sorted(emails)
    assert body["startingAfterId"] == params["startingAfterId"]

    back = {"limit": "3", "endingBeforeId": seen[-1]["id"]}
    before = (await get(http, path, params=back)).body
    assert [s["id"] for s in before["items"]] == [s["id"] for s in seen[3:6]]
    assert before["hasMore"] is True
    assert before["endingBeforeId"] == seen[-1]["id"]


async def test_sandbox_delete_and_undelete(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    base = f"/instances/{server.ids.instance_id}/sandboxes"
    victim = server.ids.sandbox_ids[0]
    assert (await send(http, "DELETE", f"{base}/{victim}")).status == 200
    assert (await get(http, f"{base}/{victim}")).status == 404
    listed = await get(http, base)
    assert victim not in [s["id"] for s in listed.body["items"]]
    everything = await get(http, base, params={"includeDeleted": "true"})
    assert victim in [s["id"] for s in everything.body["items"]]
    restored = await send(http, "PATCH", f"{base}/{victim}/undelete")
    assert restored.status == 200 and restored.body["id"] == victim
    assert (await get(http, f"{base}/{victim}")).status == 200


async def test_applications_and_devices(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    org = server.ids.org_id
    created = await send(http, "POST", "/applications", json={"name": "Fresh", "orgId": org})
    assert created.status == 201
    app = created.body["id"]
    assert created.body["ownerId"] == org and created.body["ownerType"] == "organization"
    assert app in server.ids.org_application_ids[org]
    listed = await get(http, "/applications", params={"orgId": org, "perPage": "50"})
    assert app in [a["id"] for a in listed.body["items"]]

    dev = await send(http, "POST", f"/applications/{app}/devices", json={"name": "Probe"})
    assert dev.status == 201 and dev.body["applicationId"] == app
    device = dev.body["id"]
    assert (await get(http, f"/applications/{app}/devices/{device}")).body["name"] == "Probe"
    patched = await send(
        http, "PATCH", f"/applications/{app}/devices/{device}", json={"name": "Probe 2"}
    )
    assert patched.body["name"] == "Probe 2"
    devices = await get(http, f"/applications/{app}/devices")
    assert [d["id"] for d in devices.body["items"]] == [device]
    assert devices.body["applicationId"] == app
    assert (await send(http, "DELETE", f"/applications/{app}/devices/{device}")).status == 200
    assert (await get(http, f"/applications/{app}/devices/{device}")).status == 404

    seeded = server.ids.application_id
    seeded_devices = await get(http, f"/applications/{seeded}/devices")
    assert seeded_devices.body["totalCount"] == 3
    assert {d["id"] for d in seeded_devices.body["items"]} == set(server.ids.devices_of(seeded))

    assert (await send(http, "DELETE", f"/applications/{app}")).status == 200
    assert (await get(http, f"/applications/{app}")).status == 404
    assert app not in server.ids.application_ids
    missing_org = await send(http, "POST", "/applications", json={"name": "X", "orgId": "0" * 24})
    assert missing_org.status == 404


async def test_usage_adds_up_across_levels(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    inst = f"/instances/{server.ids.instance_id}"
    span = window()
    org_totals = []
    for org, apps in server.ids.org_application_ids.items():
        org_stats = (await get(http, f"{inst}/orgs/{org}/payloadCounts", params=span)).body
        app_stats = [
            (await get(http, f"/applications/{a}/payloadCounts", params=span)).body for a in apps
        ]
        summed: Counter[tuple[str, str]] = Counter()
        for stats in app_stats:
            for kind, sources in stats.items():
                for source, count in sources.items():
                    summed[(kind, source)] += count
        flat = {(k, s): c for k, sources in org_stats.items() for s, c in sources.items()}
        assert flat == dict(summed)
        assert total(org_stats) > 0
        same = (await get(http, f"/orgs/{org}/payloadCounts", params=span)).body
        assert same == org_stats
        org_totals.append(total(org_stats))
    box_totals = [
        total((await get(http, f"{inst}/sandboxes/{b}/payloadCounts", params=span)).body)
        for b in server.ids.sandbox_ids
    ]
    instance = (await get(http, f"{inst}/payloadCounts", params=span)).body
    assert total(instance) == sum(org_totals) + sum(box_totals)

    for name in ("deviceCounts", "notebookMinuteCounts", "payloadCountsBreakdown"):
        inst_counts = (await get(http, f"{inst}/{name}", params=span)).body["counts"]
        parts = [
            (await get(http, f"{inst}/orgs/{o}/{name}", params=span)).body["counts"]
            for o in server.ids.org_ids
        ] + [
            (await get(http, f"{inst}/sandboxes/{b}/{name}", params=span)).body["counts"]
            for b in server.ids.sandbox_ids
        ]
        for i, entry in enumerate(inst_counts):
            for key, value in entry.items():
                if key != "date":
                    assert value == sum(p[i][key] for p in parts), (name, key)
        assert len(inst_counts) >= 10


@pytest.mark.parametrize(
    "fake_losant_options", [{"now": d} for d in AWKWARD], ids=lambda o: o["now"].isoformat()
)
async def test_usage_filters_by_time(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    path = f"/instances/{server.ids.instance_id}/orgs/{server.ids.org_id}"
    now_ms = server.clock()
    wide, narrow = window(10, now_ms), window(2, now_ms)
    wide_total = total((await get(http, f"{path}/payloadCounts", params=wide)).body)
    narrow_total = total((await get(http, f"{path}/payloadCounts", params=narrow)).body)
    assert 0 < narrow_total < wide_total
    wide_days = (await get(http, f"{path}/deviceCounts", params=wide)).body
    narrow_days = (await get(http, f"{path}/deviceCounts", params=narrow)).body
    # Both ends are inclusive: a window ending exactly at midnight holds a third day start.
    at_midnight = int(narrow["end"]) % DAY == 0
    assert len(narrow_days["counts"]) == 2 + at_midnight < len(wide_days["counts"])
    assert narrow_days["start"].endswith("Z") and narrow_days["end"].endswith("Z")

    breakdown = f"{path}/payloadCountsBreakdown"
    by_day = (await get(http, breakdown, params=wide)).body["counts"]
    hourly = {**wide, "resolution": "3600000"}
    by_hour = (await get(http, breakdown, params=hourly)).body["counts"]
    assert len(by_hour) > len(by_day)
    assert sum(c["value"] for c in by_hour) == sum(c["value"] for c in by_day)
    every = {**wide, "includeNonBillable": "true"}
    with_all = (await get(http, breakdown, params=every)).body["counts"]
    assert sum(c["value"] for c in with_all) >= sum(c["value"] for c in by_day)
    as_bytes = await get(http, f"{path}/payloadCounts", params={**wide, "asBytes": "true"})
    assert total(as_bytes.body) > wide_total
    bad = await get(http, breakdown, params={"resolution": "60000"})
    assert bad.status == 400


@pytest.mark.fake_losant(now=datetime(2026, 3, 1, 1, 30, tzinfo=UTC))
async def test_day_starts_of_a_window_ending_at_midnight(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    path = f"/applications/{server.ids.application_id}/deviceCounts"
    midnight = 1_772_323_200_000  # 2026-03-01T00:00:00Z
    ends = {"start": str(midnight - 2 * DAY), "end": str(midnight)}
    one_am = {"start": str(midnight - 2 * DAY + HOUR), "end": str(midnight + HOUR)}
    dates = [c["date"] for c in (await get(http, path, params=ends)).body["counts"]]
    assert dates == [
        "2026-02-27T00:00:00.000Z",
        "2026-02-28T00:00:00.000Z",
        "2026-03-01T00:00:00.000Z",
    ]
    dates = [c["date"] for c in (await get(http, path, params=one_am)).body["counts"]]
    assert dates == ["2026-02-28T00:00:00.000Z", "2026-03-01T00:00:00.000Z"]
    # Without a window: from midnight 30 days ago (days=30) up to the clock's now.
    every = (await get(http, path)).body
    assert every["counts"][0]["date"] == "2026-01-30T00:00:00.000Z"
    assert every["counts"][-1]["date"] == "2026-03-01T00:00:00.000Z"
    assert every["end"] == "2026-03-01T01:30:00.000Z"


async def test_historical_summaries(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    path = f"/instances/{server.ids.instance_id}/historicalSummaries"
    body = (await get(http, path, params={"perPage": "4"})).body
    assert body["totalCount"] == 3 + 3 * 2
    assert body["count"] == 4
    orgs_only = (
        await get(http, path, params={"filterField": "resourceType", "filter": "organization"})
    ).body
    assert {i["resourceId"] for i in orgs_only["items"]} == set(server.ids.org_ids)


async def test_same_seed_same_world() -> None:
    async with FakeLosant(seed=5) as a, FakeLosant(seed=5) as b, FakeLosant(seed=6) as c:
        assert a.ids.org_ids == b.ids.org_ids != c.ids.org_ids
        assert a.ids.device_ids == b.ids.device_ids
        assert a.ids.instance_id == b.ids.instance_id


async def test_example_args_call_stored_objects(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    args = server.example_args("instanceOrg.get")
    assert args["orgId"] == server.ids.org_id
    assert (await call(http, "instanceOrg.get", args)).body["id"] == server.ids.org_id
    doomed = server.example_args("instanceOrg.delete")["orgId"]
    assert doomed == server.ids.org_ids[-1] != server.ids.org_id


async def test_large_instances_start_fast() -> None:
    started = time.perf_counter()
    async with FakeLosant(orgs=5000, apps_per_org=5) as server:
        ready = time.perf_counter()
        headers = {"Authorization": f"Bearer {server.token}"}
        async with aiohttp.ClientSession(base_url=server.url, headers=headers) as http:
            path = f"/instances/{server.ids.instance_id}/orgs"
            body = (await get(http, path, params={"perPage": "10"})).body
            first = time.perf_counter()
            assert body["totalCount"] == 5000 and body["count"] == 10
            counts = await get(http, f"/instances/{server.ids.instance_id}/payloadCounts")
            assert counts.status == 200
        done = time.perf_counter()
    print(
        f"5000 orgs x 5 apps: start {ready - started:.3f}s, first page {first - ready:.3f}s, "
        f"instance payloadCounts {done - first:.3f}s"
    )


COLD_START = """
import asyncio, time
started = time.perf_counter()
import aiohttp
from losant_async.testing import FakeLosant

async def main() -> None:
    async with FakeLosant() as server:
        headers = {"Authorization": "Bearer " + server.token}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.get(server.url + "/instances/" + server.ids.instance_id) as resp:
                assert resp.status == 200
        print(f"{time.perf_counter() - started:.3f}")

asyncio.run(main())
"""


def test_cold_start_and_first_request() -> None:
    done = subprocess.run(
        [sys.executable, "-c", COLD_START], capture_output=True, text=True, timeout=60, check=True
    )
    print(f"cold start (imports, description, server, first request): {done.stdout.strip()}s")


async def test_instance_is_listed_fetched_and_patched(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    listed = await get(http, "/instances")
    assert listed.status == 200
    body = listed.body
    assert [i["id"] for i in body["items"]] == [server.ids.instance_id]
    assert (body["count"], body["totalCount"], body["page"], body["perPage"]) == (1, 1, 0, 100)
    assert (body["sortField"], body["sortDirection"]) == ("name", "asc")
    listed_one = body["items"][0]
    assert listed_one["instanceId"] == server.ids.instance_id
    assert listed_one["name"].endswith(" Instance")
    assert listed_one["creationDate"] < min(
        o["creationDate"]
        for o in (await get(http, f"/instances/{server.ids.instance_id}/orgs")).body["items"]
    )
    beyond = await get(http, "/instances", params={"perPage": "1", "page": "1"})
    assert beyond.body["items"] == [] and beyond.body["totalCount"] == 1
    none = await get(http, "/instances", params={"filterField": "name", "filter": "nope*"})
    assert none.body["items"] == [] and none.body["filter"] == "nope*"

    path = f"/instances/{listed_one['id']}"
    fetched = (await get(http, path)).body
    assert fetched["id"] == listed_one["id"] and fetched["name"] == listed_one["name"]
    assert fetched["members"] == [{"userId": server.ids.user_id, "role": "admin"}]
    report = {"cron": "0 0 * * *", "dateGroupBy": "day", "emails": ["ops@example.com"]}
    change = {"mfaMode": "required", "reportConfigs": [report]}
    patched = await send(http, "PATCH", path, json=change)
    assert patched.status == 200
    assert patched.body["mfaMode"] == "required" and patched.body["reportConfigs"] == [report]
    assert patched.body["lastUpdated"] > fetched["lastUpdated"]
    again = (await get(http, path)).body
    assert again["mfaMode"] == "required" and again["reportConfigs"] == [report]
    assert (await get(http, "/instances")).body["items"][0]["mfaMode"] == "required"
    bad = await send(http, "PATCH", path, json={"name": "not patchable"})
    assert bad.status == 400


async def test_the_user_seen_by_me_and_instance_members(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    ids = server.ids
    me = (await get(http, "/me")).body
    assert me["id"] == me["userId"] == ids.user_id
    assert "recentApplications" not in me
    counts = {k: me["summary"][k] for k in ("orgCount", "instanceCount", "appCount")}
    assert counts == {"orgCount": 3, "instanceCount": 1, "appCount": 0}
    members = (await get(http, f"/instances/{ids.instance_id}/members")).body
    assert members["count"] == 1 and members["instanceId"] == ids.instance_id
    (member,) = members["items"]
    assert (member["userId"], member["role"], member["email"]) == (
        ids.user_id,
        "admin",
        me["email"],
    )

    patched = await send(
        http, "PATCH", "/me", json={"firstName": "Rae", "password": "Secret-pass-42"}
    )
    assert patched.body["firstName"] == "Rae" and "password" not in patched.body
    assert (await get(http, "/me")).body["firstName"] == "Rae"
    members = (await get(http, f"/instances/{ids.instance_id}/members")).body
    assert members["items"][0]["firstName"] == "Rae"
    filtered = await get(
        http,
        f"/instances/{ids.instance_id}/members",
        params={"filterField": "role", "filter": "view"},
    )
    assert filtered.body["items"] == [] and filtered.body["filterField"] == "role"

    own = await send(http, "POST", "/applications", json={"name": "Mine"})
    await send(http, "POST", f"/applications/{own.body['id']}/devices", json={"name": "D"})
    summary = (await get(http, "/me")).body["summary"]
    assert (summary["appCount"], summary["deviceCount"]) == (1, 1)
    mine = await get(http, "/applications", params={"orgId": ""})
    assert [a["id"] for a in mine.body["items"]] == [own.body["id"]]

    box = ids.sandbox_id
    sandbox = (await get(http, f"/instances/{ids.instance_id}/sandboxes/{box}")).body
    assert (sandbox["summary"]["appCount"], sandbox["summary"]["deviceCount"]) == (1, 3)
    assert sandbox["orgs"] == [] and sandbox["summary"]["orgCount"] == 0
