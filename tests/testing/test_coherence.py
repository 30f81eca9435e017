"""The stored state holds together: reported device states, summaries of stored objects,
paging params Losant refuses, fault rules for actions that exist, and the ID lists."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from losant_async.testing import FakeLosant, Latency, Status

from .fakehttp import DAY, NOW_MS, get, send

pytestmark = pytest.mark.anyio

MONTH_START = 1_772_323_200_000  # 2026-03-01T00:00:00Z, the month of NOW


async def test_reported_states_are_what_get_state_and_composite_state_return(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    app, device = server.ids.application_id, server.ids.device_id
    path = f"/applications/{app}/devices/{device}"
    assert (await get(http, f"{path}/state")).body == []  # nothing reported yet
    assert (await get(http, f"{path}/compositeState")).body == {}

    older = {"time": NOW_MS - DAY, "data": {"temperature": 18, "door": "open"}}
    sent = await send(http, "POST", f"{path}/state", json=older)
    assert sent.status == 200
    batch: list[dict[str, Any]] = [
        {"time": "2026-03-01T00:30:00.000Z", "data": {"temperature": 19.5}},
        {"time": {"$date": "2026-03-01T01:00:00.000Z"}, "data": {"humidity": 40}},
    ]
    assert (await send(http, "POST", f"{path}/state", json=batch)).status == 200
    server.send_state(app, device, {"data": {"temperature": 21}})  # stamped by the clock

    newest = (await get(http, f"{path}/state")).body
    assert newest == [{"time": "2026-03-01T01:30:00.250Z", "data": {"temperature": 21}}]
    every = (await get(http, f"{path}/state", params={"limit": "10"})).body
    assert [s["time"] for s in every] == [
        "2026-03-01T01:30:00.250Z",
        "2026-03-01T01:00:00.000Z",
        "2026-03-01T00:30:00.000Z",
        "2026-02-28T01:30:00.250Z",
    ]
    assert every[-1]["data"] == older["data"]
    oldest_first = await get(http, f"{path}/state", params={"limit": "2", "sortDirection": "asc"})
    assert [s["data"] for s in oldest_first.body] == [older["data"], batch[0]["data"]]
    window = {"start": str(MONTH_START), "end": str(MONTH_START + 3_600_000), "limit": "10"}
    assert len((await get(http, f"{path}/state", params=window)).body) == 2

    composite = (await get(http, f"{path}/compositeState")).body
    assert composite == {
        "temperature": {"value": 21, "time": "2026-03-01T01:30:00.250Z"},
        "door": {"value": "open", "time": "2026-02-28T01:30:00.250Z"},
        "humidity": {"value": 40, "time": "2026-03-01T01:00:00.000Z"},
    }
    before = {"end": str(MONTH_START + 3_600_000), "attributes": "temperature,humidity"}
    assert (await get(http, f"{path}/compositeState", params=before)).body == {
        "temperature": {"value": 19.5, "time": "2026-03-01T00:30:00.000Z"},
        "humidity": {"value": 40, "time": "2026-03-01T01:00:00.000Z"},
    }
    listed = (await get(http, f"/applications/{app}/devices/compositeState")).body
    states = {item["id"]: item["compositeState"] for item in listed["items"]}
    assert states == {d: composite if d == device else {} for d in server.ids.devices_of(app)}


async def test_summaries_describe_the_stored_objects(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    ids = server.ids
    inst = f"/instances/{ids.instance_id}"
    this_month = {"start": str(MONTH_START)}
    org = (await get(http, f"{inst}/orgs/{ids.org_id}")).body
    apps = ids.org_application_ids[ids.org_id]
    assert org["summary"]["appCount"] == len(apps)
    assert org["summary"]["memberCount"] == 1
    assert org["summary"]["dashCount"] == org["summary"]["flowCount"] == 0
    assert org["summary"]["notebookStats"] == {
        "awaitingCompletion": 0,
        "minutesThisPeriod": 0,
        "runsThisPeriod": 0,
    }
    payloads = await get(http, f"{inst}/orgs/{ids.org_id}/payloadCounts", params=this_month)
    assert org["summary"]["payloadCount"] == payloads.body

    box = (await get(http, f"{inst}/sandboxes/{ids.sandbox_id}")).body
    box_payloads = await get(
        http, f"{inst}/sandboxes/{ids.sandbox_id}/payloadCounts", params=this_month
    )
    assert box["summary"]["payloadCount"] == box_payloads.body
    assert box["summary"]["dashCount"] == 0 and box["summary"]["orgCount"] == 0

    window = {"start": str(NOW_MS - 3 * DAY), "end": str(NOW_MS)}
    summaries = (await get(http, "/applications/periodSummaries", params=window)).body
    names = {a["id"]: a["name"] for a in (await get(http, "/applications")).body["items"]}
    assert [i["id"] for i in summaries["items"]] == list(names)  # by name, as listed
    assert summaries["totalCount"] == len(ids.application_ids)
    for item in summaries["items"]:
        assert item["name"] == names[item["id"]] and item["applicationId"] == item["id"]
        base = f"/applications/{item['id']}"
        devices = await get(http, f"{base}/deviceCounts", params=window)
        assert item["summary"]["deviceCounts"] == devices.body
        notebooks = await get(http, f"{base}/notebookMinuteCounts", params=window)
        assert item["summary"]["notebookMinuteCounts"] == notebooks.body
        breakdown = await get(http, f"{base}/payloadCountsBreakdown", params=window)
        assert item["summary"]["payloadCounts"] == breakdown.body
    of_org = await get(
        http,
        "/applications/periodSummaries",
        params={"orgId": ids.org_id, "exclude": "deviceCounts,notebookMinuteCounts"},
    )
    assert sorted(i["id"] for i in of_org.body["items"]) == sorted(apps)
    assert {tuple(i["summary"]) for i in of_org.body["items"]} == {("payloadCounts",)}
    # Without a window: this month, by the clock.
    month = (await get(http, "/applications/periodSummaries")).body["items"][0]["summary"]
    assert month["deviceCounts"]["start"] == "2026-03-01T00:00:00.000Z"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("perPage", "abc"),
        ("perPage", "-1"),
        ("perPage", "0"),
        ("perPage", "1.5"),
        ("perPage", ""),
        ("page", "-1"),
        ("page", "abc"),
        ("page", "٣"),  # a digit, but not an ASCII one
    ],
)
async def test_bad_page_params_are_400(
    server: FakeLosant, http: aiohttp.ClientSession, name: str, value: str
) -> None:
    stored = f"/instances/{server.ids.instance_id}/orgs"
    generic = f"/applications/{server.ids.application_id}/dashboards"
    for path in (stored, generic):
        refused = await get(http, path, params={name: value})
        assert refused.status == 400, (path, name, value)
        assert refused.body["type"] == "Validation" and name in refused.body["message"]
    assert (await get(http, stored, params={name: "1"})).status == 200


async def test_bad_limit_is_400(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    path = f"/instances/{server.ids.instance_id}/sandboxes"
    for value in ("0", "-5", "ten"):
        refused = await get(http, path, params={"limit": value})
        assert refused.status == 400 and "limit" in refused.body["message"]
    assert (await get(http, path, params={"limit": "1"})).body["count"] == 1


def test_a_fault_for_an_unknown_action_is_refused_at_once() -> None:
    server = FakeLosant()
    with pytest.raises(ValueError, match=r"unknown action 'instanceOrgs\.gett'.*instanceOrgs\.get"):
        server.faults.add(Status(503), action="instanceOrgs.gett")
    with pytest.raises(ValueError, match="unknown action 'nothing'"):
        server.faults.add(Latency(), action="nothing")
    assert server.faults.rules == []


def test_device_ids_is_a_list_like_the_other_id_lists() -> None:
    ids = FakeLosant(orgs=2, sandboxes=1, apps_per_org=2, devices_per_app=2).ids
    assert ids.device_ids == [d for a in ids.application_ids for d in ids.devices_of(a)]
    assert len(ids.device_ids) == 5 * 2
    for listed in (ids.org_ids, ids.sandbox_ids, ids.application_ids, ids.device_ids):
        assert isinstance(listed, list) and all(isinstance(i, str) for i in listed)
    assert ids.application_device_ids == {a: ids.devices_of(a) for a in ids.application_ids}
