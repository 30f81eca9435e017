"""Live data: MQTT publish/subscribe, device states and commands over SSE."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest

from losant_async.testing import FakeLosant
from losant_async.testing._bus import topic_matches, valid_filter

from .fakehttp import call, read_event, send

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def stream(
    http: aiohttp.ClientSession, path: str, **params: str
) -> AsyncIterator[aiohttp.ClientResponse]:
    params.setdefault("keepAliveInterval", "0.05")
    async with http.get(path, params=params, headers={"Accept": "text/event-stream"}) as resp:
        yield resp


async def until_subscribed(server: FakeLosant, count: int) -> None:
    for _ in range(200):
        if server.stats.open_streams >= count:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the streams did not open")


def test_topic_matching_rules() -> None:
    cases = [
        ("a/b/c", "a/b/c", True),
        ("a/+/c", "a/b/c", True),
        ("a/+", "a/b/c", False),
        ("a/#", "a/b/c", True),
        ("a/#", "a", True),
        ("#", "a/b", True),
        ("+/+", "a/b", True),
        ("+", "a/b", False),
        ("#", "$SYS/x", False),
        ("+/x", "$SYS/x", False),
        ("$SYS/#", "$SYS/x", True),
        ("a/b", "a/b/c", False),
        ("a/+/#", "a/b", True),
    ]
    for topic_filter, topic, expected in cases:
        assert topic_matches(topic_filter, topic) is expected, (topic_filter, topic)
    assert valid_filter("a/+/#")
    for bad in ("a/#/b", "a+/b", "a/b#", ""):
        assert not valid_filter(bad)


async def test_every_stream_sends_headers_and_keepalives(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    for qualname in (
        "application.mqttSubscriptionStream",
        "device.stateStream",
        "device.commandStream",
    ):
        args = server.example_args(qualname)
        args["keepAliveInterval"] = "0.05"
        path = f"/applications/{args['applicationId']}"
        if "deviceId" in args:
            path += f"/devices/{args['deviceId']}/{qualname.split('.')[1]}"
        else:
            path += "/mqttSubscriptionStream"
        params = {k: str(v) for k, v in args.items() if k in ("topic", "keepAliveInterval")}
        async with http.get(path, params=params) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "text/event-stream"
            event = await asyncio.wait_for(read_event(resp, keepalives=True), 2)
            assert event is not None and event.event == "keepAlive"
            assert int(event.data) > 0


async def test_publish_reaches_matching_subscribers(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    app = server.ids.application_id
    path = f"/applications/{app}/mqttSubscriptionStream"
    async with (
        stream(http, path, topic="home/+/temp") as plus,
        stream(http, path, topic="home/#") as hash_all,
        stream(http, path, topic="office/#") as other,
    ):
        await until_subscribed(server, 3)
        body = {"topic": "home/kitchen/temp", "message": "21.5"}
        published = await send(http, "POST", f"/applications/{app}/mqttPublishMessage", json=body)
        assert published.status == 200 and published.body == {"success": True}
        for resp in (plus, hash_all):
            event = await asyncio.wait_for(read_event(resp), 2)
            assert event is not None and event.event == "mqttMessage"
            assert json.loads(event.data) == body
            assert "\n" not in event.data
        assert server.publish(app, "home", "parent level") == 1
        event = await asyncio.wait_for(read_event(hash_all), 2)
        assert event is not None and json.loads(event.data)["message"] == "parent level"
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(read_event(other), 0.2)
    other_app = server.ids.application_ids[1]
    assert server.publish(other_app, "home/kitchen/temp", "x") == 0
    bad = await send(
        http,
        "POST",
        f"/applications/{app}/mqttPublishMessage",
        json={"topic": "a/#", "message": ""},
    )
    assert bad.status == 400
    invalid_filter = await send(http, "GET", path, params={"topic": "a/#/b"})
    assert invalid_filter.status == 400


async def test_device_state_reaches_state_stream(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    app, device = server.ids.application_id, server.ids.device_id
    base = f"/applications/{app}/devices/{device}"
    async with stream(http, f"{base}/stateStream") as resp:
        await until_subscribed(server, 1)
        state = {"data": {"temperature": 20}, "time": "2024-01-01T00:00:00.000Z"}
        assert (await send(http, "POST", f"{base}/state", json=state)).status == 200
        event = await asyncio.wait_for(read_event(resp), 2)
        assert event is not None and event.event == "deviceState"
        assert json.loads(event.data) == state
        batch = [{"data": {"a": 1}}, {"data": {"a": 2}}]
        assert (await send(http, "POST", f"{base}/state", json=batch)).status == 200
        for expected in (1, 2):
            event = await asyncio.wait_for(read_event(resp), 2)
            assert event is not None
            received = json.loads(event.data)
            assert received["data"] == {"a": expected} and "time" in received
        assert server.send_state(app, device, {"data": {"b": True}}) == 1
        event = await asyncio.wait_for(read_event(resp), 2)
        assert event is not None and json.loads(event.data)["data"] == {"b": True}
    bad = await send(http, "POST", f"{base}/state", json={"data": {"bad key!": 1}})
    assert bad.status == 400


async def test_commands_reach_command_stream(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    app = server.ids.application_id
    first, second, *_ = server.ids.devices_of(app)
    one = f"/applications/{app}/devices/{first}/commandStream"
    two = f"/applications/{app}/devices/{second}/commandStream"
    async with stream(http, one) as resp_one, stream(http, two) as resp_two:
        await until_subscribed(server, 2)
        single = server.example_args("device.sendCommand")
        single["deviceId"] = first
        assert (await call(http, "device.sendCommand", single)).status == 200
        event = await asyncio.wait_for(read_event(resp_one), 2)
        assert event is not None and event.event == "deviceCommand"
        assert json.loads(event.data)["name"] == "reboot"
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(read_event(resp_two), 0.2)
        multi = {
            "applicationId": app,
            "multiDeviceCommand": {"name": "blink", "deviceIds": [second]},
        }
        assert (await call(http, "devices.sendCommand", multi)).status == 200
        event = await asyncio.wait_for(read_event(resp_two), 2)
        assert event is not None and json.loads(event.data)["name"] == "blink"
        assert server.send_command(app, first, "reset", {"hard": True}) == 1
        event = await asyncio.wait_for(read_event(resp_one), 2)
        assert event is not None
        assert json.loads(event.data)["payload"] == {"hard": True}


async def test_unknown_device_stream_is_404(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    app = server.ids.application_id
    result = await send(http, "GET", f"/applications/{app}/devices/{'0' * 24}/stateStream")
    assert result.status == 404


@pytest.mark.fake_losant(stream_ids=True)
async def test_event_ids_and_last_event_id_replay(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    app = server.ids.application_id
    path = f"/applications/{app}/mqttSubscriptionStream"
    async with stream(http, path, topic="t/#") as resp:
        await until_subscribed(server, 1)
        server.publish(app, "t/1", "one")
        first = await asyncio.wait_for(read_event(resp), 2)
        assert first is not None and first.id is not None
    # Published while disconnected: replayed after the last seen ID.
    server.publish(app, "t/2", "two")
    server.publish(app, "t/3", "three")
    resume = {"Last-Event-ID": first.id}
    params = {"topic": "t/#", "keepAliveInterval": "0.05"}
    async with http.get(path, params=params, headers=resume) as resp:
        got = [await asyncio.wait_for(read_event(resp), 2) for _ in range(2)]
        assert [json.loads(e.data)["message"] for e in got if e] == ["two", "three"]
        ids = [int(e.id) for e in got if e and e.id]
        assert ids == sorted(ids) and ids[0] > int(first.id)
        await until_subscribed(server, 1)
        server.publish(app, "t/4", "four")
        live = await asyncio.wait_for(read_event(resp), 2)
        assert live is not None and live.id is not None and int(live.id) > ids[-1]


@pytest.mark.fake_losant(queue_size=5)
async def test_slow_subscribers_do_not_block_publishers(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    app = server.ids.application_id
    path = f"/applications/{app}/mqttSubscriptionStream"
    async with stream(http, path, topic="#", keepAliveInterval="10") as resp:
        await until_subscribed(server, 1)
        # No awaits in between: the stream cannot drain while these are published.
        for i in range(50):
            server.publish(app, "load", str(i))
        assert server.stats.dropped_events == 45
        first = await asyncio.wait_for(read_event(resp), 2)
        assert first is not None and json.loads(first.data)["message"] == "0"


async def test_close_ends_open_streams() -> None:
    server = FakeLosant()
    await server.start()
    headers = {"Authorization": f"Bearer {server.token}"}
    path = f"/applications/{server.ids.application_id}/mqttSubscriptionStream"
    async with aiohttp.ClientSession(base_url=server.url, headers=headers) as http:
        async with stream(http, path, topic="#", keepAliveInterval="10") as resp:
            await until_subscribed(server, 1)
            await server.close()
            # The stream ended cleanly, before its first keepalive (due after 10 s).
            assert server.stats.open_streams == 0
            assert await asyncio.wait_for(read_event(resp, keepalives=True), 5) is None
