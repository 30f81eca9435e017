"""Each fault kind as a client sees it, the journal and the in-flight counters."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time

import aiohttp
import pytest

from losant_async.testing import (
    FakeLosant,
    Html,
    Latency,
    ResetAfter,
    ResetBefore,
    Status,
    StreamDrop,
    StreamStall,
    Truncate,
)

from .fakehttp import get, read_event, send, session

pytestmark = pytest.mark.anyio


def org_path(server: FakeLosant) -> str:
    return f"/instances/{server.ids.instance_id}/orgs/{server.ids.org_id}"


async def test_latency(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    rule = server.faults.add(Latency(0.2, jitter=0.05), action="instanceOrg.get")
    started = time.perf_counter()
    assert (await get(http, org_path(server))).status == 200
    assert time.perf_counter() - started >= 0.2
    assert rule.hits == 1
    assert (await get(http, "/me")).status == 200
    assert rule.hits == 1


async def test_status_with_retry_after(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    rule = server.faults.add(Status(429, retry_after="1"), action="instanceOrg.get", times=2)
    for _ in range(2):
        result = await get(http, org_path(server))
        assert result.status == 429
        assert result.headers["Retry-After"] == "1"
        assert result.body["type"] == "TooManyRequests"
    assert (await get(http, org_path(server))).status == 200
    assert rule.hits == 2 and rule.exhausted
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    server.faults.add(Status(503, retry_after=date, body={"custom": True}), times=1)
    result = await get(http, "/me")
    assert result.status == 503
    assert result.headers["Retry-After"] == date
    assert result.body == {"custom": True}


async def test_html_bad_gateway(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    server.faults.add(Html(), times=1)
    result = await get(http, "/me")
    assert result.status == 502
    assert result.headers["Content-Type"].startswith("text/html")
    assert b"Bad Gateway" in result.raw and result.raw.startswith(b"<html>")


async def test_reset_before_and_after(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    path = f"/applications/{server.ids.application_id}/mqttPublishMessage"
    body = {"topic": "a", "message": "b"}
    server.faults.add(ResetBefore(), action="application.mqttPublishMessage", times=1)
    with pytest.raises(aiohttp.ClientConnectionError):
        await send(http, "POST", path, json=body)
    server.faults.add(ResetAfter(), action="application.mqttPublishMessage", times=1)
    with pytest.raises(aiohttp.ClientConnectionError):
        await send(http, "POST", path, json=body)
    before, after = server.journal.for_action("application.mqttPublishMessage")
    assert before.status == 0 and before.body == b""
    assert after.status == 0 and after.body == b'{"topic": "a", "message": "b"}'
    assert (await send(http, "POST", path, json=body)).status == 200


async def test_truncate(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    server.faults.add(Truncate(), action="instanceOrg.get", times=1)
    async with http.get(org_path(server)) as resp:
        assert resp.status == 200
        declared = int(resp.headers["Content-Length"])
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    assert declared > 0
    assert server.journal.last("instanceOrg.get").status == 200
    assert (await get(http, org_path(server))).status == 200


async def test_stream_drop_and_stall(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    app = server.ids.application_id
    path = f"/applications/{app}/mqttSubscriptionStream"
    params = {"topic": "#", "keepAliveInterval": "0.05"}
    server.faults.add(StreamDrop(every=2), times=1)
    async with http.get(path, params=params) as resp:
        await until_open(server)
        for i in range(3):
            server.publish(app, "t", str(i))
        assert await read_event(resp) is not None
        assert await read_event(resp) is not None
        assert await asyncio.wait_for(read_event(resp), 2) is None
    server.faults.add(StreamStall(after=1, seconds=0.5), times=1)
    async with http.get(path, params=params) as resp:
        await until_open(server)
        server.publish(app, "t", "x")
        server.publish(app, "t", "y")
        first = await read_event(resp)
        assert first is not None
        stalled_at = time.perf_counter()
        nxt = await asyncio.wait_for(read_event(resp, keepalives=True), 2)
        assert nxt is not None and nxt.event == "mqttMessage"
        assert time.perf_counter() - stalled_at >= 0.4


async def test_stream_stall_from_the_start(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    server.faults.add(StreamStall(after=0, seconds=0.3), action="device.stateStream")
    app, device = server.ids.application_id, server.ids.device_id
    path = f"/applications/{app}/devices/{device}/stateStream"
    started = time.perf_counter()
    async with http.get(path, params={"keepAliveInterval": "0.05"}) as resp:
        assert resp.status == 200
        first = await asyncio.wait_for(read_event(resp, keepalives=True), 2)
        assert first is not None and first.event == "keepAlive"
        assert time.perf_counter() - started >= 0.3


async def until_open(server: FakeLosant) -> None:
    for _ in range(200):
        if server.stats.open_streams:
            return
        await asyncio.sleep(0.005)


async def test_status_on_stream_connect(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    server.faults.add(Status(503), action="device.stateStream", times=1)
    app, device = server.ids.application_id, server.ids.device_id
    result = await get(http, f"/applications/{app}/devices/{device}/stateStream")
    assert result.status == 503


async def test_rate_is_seeded() -> None:
    patterns = []
    for _ in range(2):
        async with FakeLosant(seed=3) as server, session(server) as http:
            server.faults.add(Status(500), rate=0.5)
            patterns.append([(await get(http, "/me")).status for _ in range(20)])
    assert patterns[0] == patterns[1]
    assert 0 < patterns[0].count(500) < 20


async def test_clear_and_bad_rules(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    server.faults.add(Status(500))
    assert (await get(http, "/me")).status == 500
    server.faults.clear()
    assert (await get(http, "/me")).status == 200
    # A kind is a class: a string, an unknown option or a bad value is refused at once.
    with pytest.raises(TypeError, match=r"faults.add takes a fault \(Latency, Status"):
        server.faults.add("status")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Latency(status=500)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="HTTP status code"):
        Status(1000)
    with pytest.raises(ValueError, match="every"):
        StreamDrop(every=0)
    with pytest.raises(ValueError, match="rate"):
        server.faults.add(Latency(), rate=2.0)
    assert server.faults.rules == []


async def test_journal_records_requests(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    path = f"/instances/{server.ids.instance_id}/orgs"
    await get(http, path, params=[("perPage", "2"), ("filter", "a b"), ("page", "0")])
    await send(http, "POST", path, json={"name": "Journaled"}, headers={"X-Trace": "t1"})
    await get(http, "/nowhere")
    listed, created, missing = server.journal
    assert (listed.method, listed.path, listed.action) == ("GET", path, "instanceOrgs.get")
    assert listed.query == [("perPage", "2"), ("filter", "a b"), ("page", "0")]
    assert listed.raw_query == "perPage=2&filter=a+b&page=0"
    assert listed.status == 200 and listed.body == b""
    assert listed.headers["authorization"] == f"Bearer {server.token}"
    assert created.action == "instanceOrgs.post" and created.body == b'{"name": "Journaled"}'
    assert created.headers["x-trace"] == "t1"
    assert created.time >= listed.time > 0
    assert (missing.action, missing.status) == (None, 404)
    server.journal.clear()
    assert len(server.journal) == 0


async def test_in_flight_counts(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    server.faults.add(Latency(0.2))
    await asyncio.gather(*(get(http, "/me") for _ in range(5)))
    assert server.stats.peak_in_flight == 5
    assert server.stats.in_flight == 0
    assert server.stats.requests == 5


def test_command_line_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "losant_async.testing", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0
    assert "--port" in done.stdout and "--seed" in done.stdout and "--now" in done.stdout
    naive = subprocess.run(
        [sys.executable, "-m", "losant_async.testing", "--now", "2026-03-01T01:30:00"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert naive.returncode == 2 and "give the zone" in naive.stderr


async def test_command_line_serves() -> None:
    proc = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "losant_async.testing", "--port", "0", "--token", "cli"],
        *["--now", "2026-03-01T01:30:00Z"],
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        url = line.decode().strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer cli"}) as http:
            async with http.get(f"{url}/me") as resp:
                assert resp.status == 200
            async with http.post(f"{url}/applications", json={"name": "A"}) as resp:
                assert (await resp.json())["creationDate"] == "2026-03-01T01:30:00.000Z"
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
