"""The server's clock: ``FakeLosant(now=...)`` decides every time the server reads."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta, timezone

import aiohttp
import pytest

from losant_async.testing import FakeLosant

from .fakehttp import DAY, get, read_event, send, session

pytestmark = pytest.mark.anyio

FIXED = datetime(2027, 1, 31, 23, 59, 59, 999_000, tzinfo=UTC)
FIXED_MS = 1_801_439_999_999
FIXED_ISO = "2027-01-31T23:59:59.999Z"


@pytest.mark.fake_losant(now=FIXED)
async def test_a_fixed_clock_stamps_stored_objects_and_usage(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    assert server.clock() == FIXED_MS
    base = f"/instances/{server.ids.instance_id}/orgs"
    created = (await send(http, "POST", base, json={"name": "Clocked"})).body
    assert created["creationDate"] == created["lastUpdated"] == FIXED_ISO
    app = (await send(http, "POST", "/applications", json={"name": "A"})).body
    assert app["creationDate"] == FIXED_ISO
    device = await send(http, "POST", f"/applications/{app['id']}/devices", json={"name": "D"})
    assert device.body["creationDate"] == FIXED_ISO
    usage = (await get(http, f"{base}/{server.ids.org_id}/deviceCounts")).body
    assert usage["end"] == FIXED_ISO
    assert usage["counts"][-1]["date"] == "2027-01-31T00:00:00.000Z"
    assert usage["counts"][0]["date"] == "2027-01-01T00:00:00.000Z"  # days=30


async def test_an_epoch_ms_clock_and_an_aware_datetime_in_another_zone() -> None:
    east = FIXED.astimezone(timezone(timedelta(hours=5, minutes=30)))
    async with FakeLosant(now=FIXED_MS) as a, FakeLosant(now=east) as b:
        assert a.clock() == b.clock() == FIXED_MS
        async with session(a) as http_a, session(b) as http_b:
            path = f"/instances/{a.ids.instance_id}/payloadCounts"
            assert (await get(http_a, path)).body == (await get(http_b, path)).body


async def test_a_callable_clock_is_read_on_every_use() -> None:
    ticks: list[int | datetime] = [FIXED_MS]
    async with FakeLosant(now=lambda: ticks[-1]) as server, session(server) as http:
        path = f"/applications/{server.ids.application_id}/deviceCounts"
        before = (await get(http, path)).body
        ticks.append(FIXED_MS + DAY)
        after = (await get(http, path)).body
        assert before["end"] == FIXED_ISO
        assert after["end"] == "2027-02-01T23:59:59.999Z"
        assert after["counts"][-1]["date"] == "2027-02-01T00:00:00.000Z"
        ticks.append(datetime(2027, 3, 1, tzinfo=UTC))  # datetimes work too
        assert (await get(http, path)).body["end"] == "2027-03-01T00:00:00.000Z"


@pytest.mark.fake_losant(now=FIXED)
async def test_stream_events_and_keepalives_carry_the_clock(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    app, device = server.ids.application_id, server.ids.device_id
    path = f"/applications/{app}/devices/{device}/stateStream"
    params = {"keepAliveInterval": "0.05"}
    async with http.get(path, params=params) as resp:
        keepalive = await asyncio.wait_for(read_event(resp, keepalives=True), 5)
        assert keepalive is not None and keepalive.data == str(FIXED_MS)
        server.send_state(app, device, {"data": {"temperature": 20}})
        event = await asyncio.wait_for(read_event(resp), 5)
        assert event is not None and json.loads(event.data)["time"] == FIXED_ISO


def test_a_clock_must_say_which_zone_it_reads() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        FakeLosant(now=datetime(2026, 1, 1))
    with pytest.raises(TypeError, match="datetime or epoch ms"):
        FakeLosant(now="2026-01-01")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="datetime or epoch ms"):
        FakeLosant(now=lambda: "soon").clock()  # type: ignore[arg-type, return-value]
