"""The SSE consumer against the local Losant server, over TCP: drops, stalls, errors.

Each test drives ``client.<resource>.<stream action>`` (or ``client.stream``) against
:class:`~losant_async.testing.FakeLosant` with faults injected on the server side. Backoff
is cut to milliseconds through the stream's settings so that reconnects cost nothing; every
wait is bounded, so a broken consumer fails instead of hanging.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

import aiohttp
import anyio
import anyio.lowlevel
import pytest
from aiohttp import web

from losant_async import LosantClient, models
from losant_async.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    DecodeError,
    LosantError,
    NotFoundError,
    ServerError,
    StreamError,
)
from losant_async.sse import EventStream, ServerSentEvent, StreamGap
from losant_async.testing import (
    FakeLosant,
    Fault,
    JournalEntry,
    Latency,
    ResetBefore,
    Status,
    StreamDrop,
    StreamStall,
)
from tests.conftest import Handler, Scripted, reply
from tests.test_transport import TOKEN, _closed_port, assert_token_not_in_frames

pytestmark = [pytest.mark.anyio, pytest.mark.fake_losant(stream_ids=True)]

T = TypeVar("T")
MQTT = "application.mqttSubscriptionStream"
UNKNOWN_ID = "0123456789abcdef01234567"  # well formed, but nothing has it


@pytest.fixture
async def client(server: FakeLosant) -> AsyncIterator[LosantClient]:
    async with LosantClient(server.token, base_url=server.url) as c:
        yield c


def fast(stream: EventStream[T]) -> EventStream[T]:
    """Reconnect within milliseconds, and give up rather than loop if something is wrong."""
    stream.backoff_base = 0.005
    stream.backoff_max = 0.02
    stream.max_reconnects = 200
    return stream


def mqtt(client: LosantClient, server: FakeLosant, **kw: Any) -> EventStream[Any]:
    kw.setdefault("topic", "t/#")
    kw.setdefault("keep_alive_interval", "0.1")  # the watchdog fires after 0.3 s of silence
    return fast(
        client.application.mqtt_subscription_stream(application_id=server.ids.application_id, **kw)
    )


def stream_requests(server: FakeLosant, action: str = MQTT) -> list[JournalEntry]:
    return server.journal.for_action(action)


async def until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    with anyio.fail_after(timeout):
        while True:
            if condition():
                return
            await anyio.sleep(0.005)


async def read_across_a_drop(
    stream: EventStream[models.MqttPublishBody],
    server: FakeLosant,
    app: str,
    when_connected: Callable[[], None] = lambda: None,
) -> list[str]:
    """The messages of a stream whose server drops it after the first: "1" before the
    drop, "2" published once the stream is connected again (Losant's streams replay
    nothing). ``when_connected`` runs as the stream's first connection is open."""
    got: list[str] = []

    async def publish_once_back() -> None:
        await until(lambda: stream.stats.connects == 2)
        server.publish(app, "t/a", "2")

    with anyio.fail_after(10):  # a hang guard only
        async with stream, anyio.create_task_group() as tg:
            when_connected()
            tg.start_soon(publish_once_back)
            server.publish(app, "t/a", "1")
            async for message in stream:
                got.append(str(message.message))
                if len(got) == 2:
                    break
    return got


async def take(stream: EventStream[T], count: int, timeout: float = 5.0) -> list[T]:
    got: list[T] = []
    with anyio.fail_after(timeout):
        async for item in stream:
            got.append(item)
            if len(got) == count:
                break
    return got


class Drain(Generic[T]):
    """Iterates ``stream`` to its end in a task (``tg.start_soon(drain)``), keeping what it
    yields; :meth:`close` closes the stream and waits, bounded, for the iteration to end."""

    def __init__(self, stream: EventStream[T]) -> None:
        self.stream = stream
        self.got: list[T] = []
        self.ended = anyio.Event()

    async def __call__(self) -> None:
        async for item in self.stream:
            self.got.append(item)
        self.ended.set()

    async def close(self, timeout: float = 1.0) -> None:
        await self.stream.aclose()
        with anyio.fail_after(timeout):  # a hang guard only
            await self.ended.wait()


@contextlib.asynccontextmanager
async def closed_in_a_reconnect(
    client: LosantClient,
    server: FakeLosant,
    reconnect: Fault,
    reached: Callable[[list[JournalEntry]], bool],
    timeout: float = 1.0,
) -> AsyncIterator[Drain[Any]]:
    """A stream that drops after each event, its reconnects met by ``reconnect``: one
    event is published, and once the stream's requests are ``reached`` it is closed; the
    block runs before the stream's own block is left."""
    server.faults.add(StreamDrop(every=1), action=MQTT)
    stream = mqtt(client, server)
    drain = Drain(stream)
    async with stream, anyio.create_task_group() as tg:
        server.faults.add(reconnect, action=MQTT)
        server.publish(server.ids.application_id, "t/n", "x")
        tg.start_soon(drain)
        await until(lambda: reached(stream_requests(server)))
        await drain.close(timeout)
        yield drain


async def publish_slowly(server: FakeLosant, count: int, send: Callable[[int], object]) -> None:
    """``send(i)`` for each i, yielding to the loop now and then so that publishing
    overlaps the consumer's drops and reconnects."""
    for i in range(count):
        send(i)
        if i % 3 == 0:
            await anyio.lowlevel.checkpoint()


def assert_resumed(requests: list[JournalEntry], reconnects: int) -> None:
    """Every connection after the first asked to resume after the last event it saw."""
    assert reconnects > 0
    assert len(requests) == reconnects + 1
    assert "Last-Event-ID" not in requests[0].headers
    resumed = [int(r.headers["Last-Event-ID"]) for r in requests[1:]]
    assert resumed == sorted(resumed) and resumed[0] > 0


async def through_drops(
    server: FakeLosant,
    stream: EventStream[T],
    action: str,
    count: int,
    send: Callable[[int], object],
) -> list[T]:
    """The ``count`` items ``send(i)`` publishes, read from ``stream`` while the server
    drops it; every reconnect must have resumed after the last event seen."""
    async with stream, anyio.create_task_group() as tg:
        tg.start_soon(publish_slowly, server, count, send)
        got = await take(stream, count)
    assert_resumed(stream_requests(server, action), stream.stats.reconnects)
    return got


# --- drops: each event exactly once, in order ------------------------------------------------


async def test_mqtt_stream_dropped_every_7_events_loses_nothing(
    client: LosantClient, server: FakeLosant
) -> None:
    server.faults.add(StreamDrop(every=7), action=MQTT)
    app = server.ids.application_id
    count = 200
    stream = mqtt(client, server)
    got = await through_drops(
        server, stream, MQTT, count, lambda i: server.publish(app, "t/n", str(i))
    )
    assert [m.message for m in got] == [str(i) for i in range(count)]
    assert all(isinstance(m, models.MqttPublishBody) and m.topic == "t/n" for m in got)
    assert stream.stats.events == count
    assert stream.stats.reconnects >= count // 7 - 1
    assert int(stream.last_event_id) == int(stream.stats.last_event_id)


def device_stream(
    client: LosantClient, server: FakeLosant, kind: str
) -> tuple[EventStream[Any], Callable[[int], object]]:
    """The device's ``kind`` ("state" or "command") stream, with quick keep-alives, and
    what sends its i-th item, ``{"n": i}``."""
    app, device = server.ids.application_id, server.ids.device_id
    if kind == "state":
        states = client.device.state_stream(
            application_id=app, device_id=device, keep_alive_interval="0.1"
        )
        return states, lambda i: server.send_state(app, device, {"data": {"n": i}})
    commands = client.device.command_stream(
        application_id=app, device_id=device, keep_alive_interval="0.1"
    )
    return commands, lambda i: server.send_command(app, device, "step", {"n": i})


@pytest.mark.parametrize(("kind", "every"), [("state", 5), ("command", 3)])
async def test_device_stream_dropped_every_few_events_loses_nothing(
    client: LosantClient, server: FakeLosant, kind: str, every: int
) -> None:
    action = f"device.{kind}Stream"
    server.faults.add(StreamDrop(every=every), action=action)
    stream, send = device_stream(client, server, kind)
    count = 30
    got = await through_drops(server, fast(stream), action, count, send)
    if kind == "state":
        assert all(isinstance(s, models.DeviceState) for s in got)
        payloads = [s.data for s in got]
    else:
        assert all(isinstance(c, models.DeviceCommand) and c.name == "step" for c in got)
        payloads = [c.payload for c in got]
    assert payloads == [{"n": i} for i in range(count)]


# --- stalls: the idle watchdog ---------------------------------------------------------------


async def test_stalled_stream_is_reconnected_by_the_idle_watchdog(
    client: LosantClient, server: FakeLosant
) -> None:
    # Keep-alives every 0.2 s: the watchdog fires after 0.6 s of silence. The server goes
    # quiet (no events, no keep-alives) after 3 events, for far longer than the test lasts.
    server.faults.add(StreamStall(after=3, seconds=30), action=MQTT, times=1)
    app = server.ids.application_id
    stream = mqtt(client, server, keep_alive_interval="0.2")
    assert stream.idle_timeout == pytest.approx(0.6)
    async with stream:
        for i in range(6):
            server.publish(app, "t/n", str(i))
        got = await take(stream, 6)
        assert stream.stats.reconnects == 1
        # And the new connection is live, not just a replay.
        assert server.publish(app, "t/n", "later") >= 1
        (later,) = await take(stream, 1)
    assert [m.message for m in got] == ["0", "1", "2", "3", "4", "5"]
    assert later.message == "later"
    assert stream.stats.connects == 2
    first, second = stream_requests(server)
    assert second.headers["Last-Event-ID"] == "3"
    # The first connection went quiet after its 3rd event; the watchdog waited 0.6 s.
    assert second.time - first.time >= 0.5


async def test_unanswered_connect_is_abandoned_after_the_idle_timeout(
    client: LosantClient, server: FakeLosant
) -> None:
    # The first request is accepted but its headers are held back for 0.6 s: the stream
    # gives up on it after 0.15 s of silence (3 keep-alive intervals) and tries again,
    # rather than waiting for it.
    server.faults.add(Latency(0.6), action=MQTT, times=1)
    stream = mqtt(client, server, keep_alive_interval="0.05")
    with anyio.fail_after(5):
        async with stream:
            server.publish(server.ids.application_id, "t/n", "through")
            (msg,) = await take(stream, 1)
    assert msg.message == "through"
    assert stream.stats.reconnects == 1 and stream.stats.connects == 1
    held, answered = stream_requests(server)
    assert answered.time - held.time >= 0.1
    assert answered.status == 200 and answered.headers.get("Last-Event-ID") is None


async def test_keepalives_alone_keep_the_watchdog_quiet(
    client: LosantClient, server: FakeLosant
) -> None:
    stream = mqtt(client, server)
    async with stream:
        with anyio.move_on_after(0.6):
            await take(stream, 1, timeout=1)
    assert stream.stats.events == 0
    assert stream.stats.reconnects == 0 and stream.stats.connects == 1


# --- fatal statuses: raised on entering, no retry loop ---------------------------------------


async def assert_refused_once(
    server: FakeLosant, stream: EventStream[Any], error: type[APIError], status: int
) -> None:
    """Entering ``stream`` raises ``error`` for ``status`` after one request, no retry."""
    with anyio.fail_after(2), pytest.raises(error) as info:
        async with stream:
            pytest.fail("entered a stream the server refused")
    assert info.value.status == status
    assert len(server.journal) == 1 and server.journal[0].status == status
    assert stream.stats.reconnects == 0


async def test_wrong_token_raises_authentication_error_once(server: FakeLosant) -> None:
    async with LosantClient("not-the-token", base_url=server.url) as client:
        await assert_refused_once(server, mqtt(client, server), AuthenticationError, 401)
    assert server.stats.open_streams == 0


@pytest.mark.parametrize("which", ["application", "device"])
async def test_unknown_id_raises_not_found_once(
    client: LosantClient, server: FakeLosant, which: str
) -> None:
    stream: EventStream[Any]
    if which == "application":
        stream = fast(
            client.application.mqtt_subscription_stream(application_id=UNKNOWN_ID, topic="#")
        )
    else:
        stream = fast(
            client.device.state_stream(
                application_id=server.ids.application_id, device_id=UNKNOWN_ID
            )
        )
    await assert_refused_once(server, stream, NotFoundError, 404)


async def test_bad_topic_filter_raises_bad_request_once(
    client: LosantClient, server: FakeLosant
) -> None:
    await assert_refused_once(server, mqtt(client, server, topic="a/#/b"), BadRequestError, 400)


async def test_fatal_status_on_reconnect_ends_the_stream(
    client: LosantClient, server: FakeLosant
) -> None:
    # Connected fine, then the stream drops and the server refuses the token from then on.
    server.faults.add(StreamDrop(every=1), action=MQTT)
    stream = mqtt(client, server)
    async with stream:
        server.faults.add(Status(401), action=MQTT)
        server.publish(server.ids.application_id, "t/n", "only")
        (only,) = await take(stream, 1)
        with anyio.fail_after(2), pytest.raises(AuthenticationError):
            await stream.__anext__()
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()
    assert only.message == "only"
    assert [r.status for r in stream_requests(server)] == [200, 401]


# --- 429 / 503 with Retry-After on connect ---------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_on_connect_is_waited_out(
    client: LosantClient, server: FakeLosant, status: int
) -> None:
    # Retry-After takes whole seconds, so 1 is the smallest meaningful wait.
    server.faults.add(Status(status, retry_after=1), action=MQTT, times=1)
    stream = mqtt(client, server)
    with anyio.fail_after(5):
        async with stream:
            server.publish(server.ids.application_id, "t/n", "after the wait")
            (msg,) = await take(stream, 1)
    assert msg.message == "after the wait"
    refused, accepted = stream_requests(server)
    assert (refused.status, accepted.status) == (status, 200)
    # Retry-After overrides the (tiny) backoff: the second request came a second later.
    assert accepted.time - refused.time >= 0.95
    assert stream.stats.reconnects == 1 and stream.stats.connects == 1


async def test_max_reconnects_bounds_a_refused_connect(
    client: LosantClient, server: FakeLosant
) -> None:
    server.faults.add(Status(503), action=MQTT)
    stream = mqtt(client, server)
    stream.max_reconnects = 3
    with anyio.fail_after(2), pytest.raises(StreamError, match="cannot connect") as info:
        async with stream:
            pytest.fail("entered a stream the server refused")
    assert [r.status for r in stream_requests(server)] == [503] * 4
    assert "after 3 reconnects" in str(info.value) and "-> 503" in str(info.value)
    assert isinstance(info.value.__cause__, ServerError) and info.value.__cause__.status == 503


# --- oversize events -------------------------------------------------------------------------


async def test_oversize_event_raises_stream_error_after_the_events_before_it(
    client: LosantClient, server: FakeLosant
) -> None:
    app = server.ids.application_id
    stream = mqtt(client, server)
    stream.max_event_size = 512
    received: list[str] = []
    async with stream:
        for i in range(3):
            server.publish(app, "t/n", str(i))
        server.publish(app, "t/n", "x" * 2000)
        server.publish(app, "t/n", "never")
        # Let all of it reach the client's buffer, so that one read holds the small events
        # and the large one: those before it must still come out first.
        await anyio.sleep(0.1)
        with anyio.fail_after(2), pytest.raises(StreamError) as info:
            async for msg in stream:
                received.append(msg.message)
        # The stream is over: no reconnect, no more events.
        assert [m async for m in stream] == []
    assert received == ["0", "1", "2"]
    message = str(info.value)
    assert "max_event_size=512" in message and "/mqttSubscriptionStream" in message
    assert stream.stats.reconnects == 0
    await until(lambda: server.stats.open_streams == 0)


async def test_max_event_size_none_lifts_the_limit(
    client: LosantClient, server: FakeLosant
) -> None:
    stream = mqtt(client, server)
    stream.max_event_size = None
    big = "y" * (2 << 20)  # over the 1 MiB default
    async with stream:
        server.publish(server.ids.application_id, "t/n", big)
        (msg,) = await take(stream, 1)
    assert msg.message == big


# --- cancellation and leaving the block close the connection ---------------------------------


async def test_cancelling_the_consumer_closes_the_connection(
    client: LosantClient, server: FakeLosant
) -> None:
    got: list[Any] = []

    async def consume() -> None:
        async with mqtt(client, server) as stream:
            async for msg in stream:
                got.append(msg)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        await until(lambda: server.stats.open_streams == 1)
        server.publish(server.ids.application_id, "t/n", "one")
        await until(lambda: len(got) == 1)
        tg.cancel_scope.cancel()
    # The server notices at its next write, a keep-alive 0.1 s away at most.
    await until(lambda: server.stats.open_streams == 0, timeout=1)


async def test_move_on_after_closes_the_connection(
    client: LosantClient, server: FakeLosant
) -> None:
    stream = mqtt(client, server)
    with anyio.move_on_after(0.2) as scope:
        async with stream:
            async for _ in stream:
                pass
    assert scope.cancelled_caught
    await until(lambda: server.stats.open_streams == 0, timeout=1)
    assert stream.stats.connects == 1


async def test_leaving_the_block_closes_the_connection(
    client: LosantClient, server: FakeLosant
) -> None:
    async with mqtt(client, server) as stream:
        server.publish(server.ids.application_id, "t/n", "one")
        await take(stream, 1)
        assert server.stats.open_streams == 1
    await until(lambda: server.stats.open_streams == 0, timeout=1)
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


async def test_a_timed_out_read_leaves_the_stream_usable(
    client: LosantClient, server: FakeLosant
) -> None:
    async with mqtt(client, server) as stream:
        with anyio.move_on_after(0.1):
            await stream.__anext__()
        server.publish(server.ids.application_id, "t/n", "still here")
        (msg,) = await take(stream, 1)
    assert msg.message == "still here"
    assert stream.stats.connects == 1 and stream.stats.reconnects == 0


async def test_aclose_from_another_task_ends_iteration(
    client: LosantClient, server: FakeLosant
) -> None:
    stream = mqtt(client, server, keep_alive_interval="5")  # watchdog at 15 s
    stream.idle_timeout = None
    drain = Drain(stream)
    async with stream, anyio.create_task_group() as tg:
        tg.start_soon(drain)
        await anyio.sleep(0.05)
        await drain.close()
    assert stream.stats.reconnects == 0


async def test_aclose_during_a_reconnect_closes_the_new_connection(
    client: LosantClient, server: FakeLosant
) -> None:
    # The reconnect's answer is held back 0.3 s; aclose() comes in the meantime.
    async with closed_in_a_reconnect(client, server, Latency(0.3), lambda r: len(r) == 2):
        # Closed already, not only when the block is left.
        await until(lambda: server.stats.open_streams == 0, timeout=1)
    assert len(stream_requests(server)) == 2


async def test_aclose_stops_the_retries_of_a_refused_reconnect(
    client: LosantClient, server: FakeLosant
) -> None:
    async with closed_in_a_reconnect(client, server, Status(503), lambda r: len(r) >= 3):
        pass
    sent = len(stream_requests(server))
    await anyio.sleep(0.05)
    assert len(stream_requests(server)) == sent


# --- client.stream: raw events from any SSE path ---------------------------------------------


async def test_generic_stream_yields_raw_events_with_keepalives(
    client: LosantClient, server: FakeLosant
) -> None:
    app = server.ids.application_id
    stream = fast(
        client.stream(
            f"/applications/{app}/mqttSubscriptionStream",
            params={"topic": "t/#", "keepAliveInterval": "0.05"},
            idle_timeout=0.5,
        )
    )
    seen: list[ServerSentEvent] = []
    async with stream:
        with anyio.fail_after(3):
            async for event in stream:
                seen.append(event)
                if event.event == "keepAlive" and len(seen) == 1:
                    server.publish(app, "t/raw", "hello")
                if event.event == "mqttMessage":
                    break
    assert all(isinstance(e, ServerSentEvent) for e in seen)
    assert seen[0].event == "keepAlive" and int(seen[0].data) > 0
    message = seen[-1]
    assert json.loads(message.data) == {"topic": "t/raw", "message": "hello"}
    assert message.id and int(message.id) > 0
    (request,) = stream_requests(server)
    assert request.query_dict() == {"topic": "t/#", "keepAliveInterval": "0.05"}
    assert request.headers["Accept"] == "text/event-stream"
    assert request.headers["Authorization"] == f"Bearer {server.token}"


async def test_server_retry_zero_does_not_spin(scripted: Scripted) -> None:
    async def closes_at_once(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"retry: 0\n\n")
        return resp  # ends the stream: the client must reconnect

    scripted.fallback = closes_at_once
    async with LosantClient("t", base_url=scripted.url) as c:
        stream = c.stream("/sse", idle_timeout=5)
        with anyio.move_on_after(1.0):
            async with stream:
                async for _ in stream:
                    pass
    # Backoff from a 0.1 s floor doubles: a handful of connections in a second, not
    # the hundreds a zero base would make.
    assert 2 <= len(scripted.seen) <= 12


async def test_a_200_that_is_not_an_event_stream_fails_once(scripted: Scripted) -> None:
    page = b"<html>please log in</html>"
    scripted.fallback = reply(200, page, **{"Content-Type": "text/html"})
    async with LosantClient("t", base_url=scripted.url) as c:
        stream = c.stream("/sse")
        with pytest.raises(DecodeError, match="text/event-stream") as info:
            await stream.__aenter__()
    assert info.value.body == page and info.value.status == 200
    assert len(scripted.seen) == 1


async def test_losantdomain_is_sent_on_every_connection(
    client: LosantClient, server: FakeLosant
) -> None:
    server.faults.add(StreamDrop(every=2), action=MQTT)
    app = server.ids.application_id
    async with (
        mqtt(client, server, losantdomain="iot.example.com") as stream,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(publish_slowly, server, 6, lambda i: server.publish(app, "t/n", str(i)))
        got = await take(stream, 6)
    assert [m.message for m in got] == [str(i) for i in range(6)]
    requests = stream_requests(server)
    assert len(requests) >= 3
    assert {r.headers.get("losantdomain") for r in requests} == {"iot.example.com"}


async def test_generic_stream_headers_add_to_and_replace_the_clients(
    client: LosantClient, server: FakeLosant
) -> None:
    app = server.ids.application_id
    stream = client.stream(
        f"/applications/{app}/mqttSubscriptionStream",
        params={"topic": "t/#"},
        headers={"Authorization": "Bearer other-token", "X-Trace": "abc"},
    )
    with pytest.raises(AuthenticationError):
        await stream.__aenter__()
    (request,) = stream_requests(server)
    assert request.headers["Authorization"] == "Bearer other-token"
    assert request.headers["X-Trace"] == "abc"
    assert request.headers["Accept"] == "text/event-stream"


async def test_204_ends_the_stream(scripted: Scripted) -> None:
    scripted.fallback = reply(204, b"")
    async with LosantClient("t", base_url=scripted.url) as c:
        with pytest.raises(StreamError, match="204"):
            await c.stream("/sse").__aenter__()
    assert len(scripted.seen) == 1


@pytest.mark.parametrize("status", [406, 410, 413, 414])
async def test_client_errors_other_than_408_and_429_do_not_loop(
    client: LosantClient, server: FakeLosant, status: int
) -> None:
    server.faults.add(Status(status), action=MQTT)
    with pytest.raises(LosantError) as info:
        await mqtt(client, server).__aenter__()
    assert getattr(info.value, "status", None) == status
    assert len(stream_requests(server)) == 1


# --- Retry-After 0, aclose during a wait, statuses that cannot open a stream -----------------

NEXT_ATTEMPT = "stream %s: next attempt in %.3f s"


def chosen_waits(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The backoffs the stream chose, in order, as it logged them."""
    return [cast(float, r.args[1]) for r in caplog.records if r.msg == NEXT_ATTEMPT]  # type: ignore[index]


@pytest.mark.parametrize("retry_after", ["0", "Wed, 21 Oct 2015 07:28:00 GMT"])
async def test_retry_after_zero_or_past_backs_off_from_the_floor(
    client: LosantClient,
    server: FakeLosant,
    caplog: pytest.LogCaptureFixture,
    retry_after: str,
) -> None:
    # The server says "now" every time and the stream's own base is tiny (5 ms). The
    # server setting the pace still gets the 0.1 s floor, doubling: no tight loop.
    caplog.set_level(logging.DEBUG, logger="losant_async")
    server.faults.add(Status(status=503, retry_after=retry_after), action=MQTT)
    stream = mqtt(client, server)
    stream.backoff_max = 1.0
    stream.max_reconnects = 4
    with anyio.fail_after(10), pytest.raises(StreamError, match="after 4 reconnects"):
        async with stream:
            pytest.fail("entered a stream the server refused")
    assert [r.status for r in stream_requests(server)] == [503] * 5
    waits = chosen_waits(caplog)
    assert len(waits) == 4
    for n, wait in enumerate(waits):
        ceiling = 0.1 * 2**n
        assert ceiling / 2 <= wait <= ceiling, (n, waits)


async def test_retry_after_longer_than_the_backoff_is_obeyed(
    client: LosantClient, server: FakeLosant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="losant_async")
    server.faults.add(Status(status=429, retry_after=1), action=MQTT, times=1)
    stream = mqtt(client, server)
    stream.retry_after_max = 0.3  # caps the server's 1 s
    with anyio.fail_after(5):
        async with stream:
            pass
    assert chosen_waits(caplog) == [0.3]
    assert [r.status for r in stream_requests(server)] == [429, 200]


async def test_aclose_ends_iteration_during_a_long_retry_after(
    client: LosantClient, server: FakeLosant
) -> None:
    # The stream drops after its first event, and the reconnect is told to wait 60 s.
    async with closed_in_a_reconnect(
        client,
        server,
        Status(status=503, retry_after=60),
        lambda requests: [r.status for r in requests] == [200, 503],
        timeout=10,  # the wait would last 60 s
    ) as drain:
        pass
    assert [m.message for m in drain.got] == ["x"]
    assert [r.status for r in stream_requests(server)] == [200, 503]


async def test_aclose_ends_iteration_during_a_pending_connect(scripted: Scripted) -> None:
    release = anyio.Event()

    async def one_event(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"data: first\n\n")
        return resp  # the stream ends: the client reconnects

    async def held(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.Response(status=503)

    scripted.script = [one_event]
    scripted.fallback = held
    async with LosantClient("t", base_url=scripted.url) as c:
        stream = fast(c.stream("/sse", idle_timeout=None))  # no watchdog to end the connect
        drain = Drain(stream)
        async with stream, anyio.create_task_group() as tg:
            tg.start_soon(drain)
            await until(lambda: len(scripted.seen) == 2)
            await drain.close(timeout=10)  # the server never answers
            # The iteration ended while the server still held the connect.
            assert not release.is_set()
            release.set()
    assert [e.data for e in drain.got] == ["first"]
    assert len(scripted.seen) == 2


@pytest.mark.parametrize("status", [201, 202, 206, 300, 302, 304, 307])
async def test_answers_other_than_200_below_400_end_the_stream(
    scripted: Scripted, status: int
) -> None:
    # No Location: aiohttp hands the redirect over instead of following it.
    scripted.fallback = reply(status, b"" if status == 304 else b"moved")
    async with LosantClient("t", base_url=scripted.url) as c:
        stream = fast(c.stream("/sse"))
        stream.max_reconnects = 3
        with anyio.fail_after(5), pytest.raises(StreamError) as info:
            await stream.__aenter__()
    assert f"answered {status}" in str(info.value)
    assert isinstance(info.value.__cause__, LosantError)
    assert getattr(info.value.__cause__, "status", None) == status
    assert len(scripted.seen) == 1
    assert stream.stats.reconnects == 0


async def test_a_followed_redirect_opens_the_stream(scripted: Scripted) -> None:
    async def events(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"data: here\n\n")
        return resp

    scripted.script = [reply(307, b"", Location="/elsewhere"), events]
    async with LosantClient("t", base_url=scripted.url) as c:
        async with fast(c.stream("/sse")) as stream:
            (event,) = await take(stream, 1)
    assert event.data == "here"
    assert [s.path for s in scripted.seen] == ["/sse", "/elsewhere"]


# --- batches: events decoded a chunk at a time, delivered one by one ------------------------


def one_write(body: bytes) -> Handler:
    """A handler sending ``body`` in a single write, then only comments until the client
    goes away."""

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(body)
        with contextlib.suppress(ConnectionError):
            while True:
                await anyio.sleep(0.05)
                await resp.write(b":\n\n")
        return resp

    return handler


def mqtt_event(i: int | str, topic: Any = "t/n") -> bytes:
    data = json.dumps({"topic": topic, "message": str(i)})
    return f"id: {i}\nevent: mqttMessage\ndata: {data}\n\n".encode()


async def test_stats_count_what_was_delivered_not_what_was_read(scripted: Scripted) -> None:
    keepalive = b'event: keepAlive\ndata: {"time":1}\n\n'
    scripted.fallback = one_write(b"".join(mqtt_event(i) + keepalive for i in range(1, 11)))
    async with (
        LosantClient("t", base_url=scripted.url) as c,
        c.application.mqtt_subscription_stream(application_id=UNKNOWN_ID, topic="#") as stream,
    ):
        first = await take(stream, 4)
        stats = stream.stats
        assert (stats.events, stats.last_event_id) == (4, "4")
        assert stats.last_event_time is not None
        assert stream.last_event_id == "10"  # all ten were read and parsed already
        second = await take(stream, 6)
        assert (stream.stats.events, stream.stats.last_event_id) == (10, "10")
    assert [m.message for m in first + second] == [str(i) for i in range(1, 11)]


async def test_an_event_that_does_not_fit_its_model_costs_no_other(scripted: Scripted) -> None:
    # Four events in one chunk, the third a JSON array where an object belongs: beyond
    # repair (a value of the wrong type inside an object would be repaired).
    unfit = b"id: 3\nevent: mqttMessage\ndata: [5]\n\n"
    body = mqtt_event(1) + mqtt_event(2) + unfit + mqtt_event(4)
    scripted.fallback = one_write(body)
    got: list[str | None] = []
    async with (
        LosantClient("t", base_url=scripted.url) as c,
        c.application.mqtt_subscription_stream(application_id=UNKNOWN_ID, topic="#") as stream,
    ):
        with pytest.raises(DecodeError, match="mqttMessage event") as info:
            async for msg in stream:
                got.append(msg.message)
        assert json.loads(info.value.body) == [5]
        assert stream.stats.events == 2
        async for msg in stream:  # the stream goes on after the bad event
            got.append(msg.message)
            break
        assert stream.stats.events == 3
    assert got == ["1", "2", "4"]


# --- gaps: reconnects the server did not resume by id ----------------------------------------


@pytest.fixture
async def no_ids() -> AsyncIterator[FakeLosant]:
    """Like Losant: events carry no id and nothing is replayed after a reconnect."""
    async with FakeLosant() as srv:
        yield srv


async def around_a_gap(
    server: FakeLosant,
    log: list[Any],
    on_gap: Callable[[StreamGap], Awaitable[None] | None],
    first: list[str],
    then: str,
) -> EventStream[Any]:
    """A stream of ``server`` whose messages go to ``log`` beside the gaps ``on_gap`` logs:
    ``first`` is published, then ``then`` once a gap is logged; the stream is closed once
    ``then`` arrived, and returned."""
    app = server.ids.application_id
    async with LosantClient(server.token, base_url=server.url) as client:
        stream = mqtt(client, server)
        stream.on_gap = on_gap

        async def consume() -> None:
            async for msg in stream:
                log.append(msg.message)

        async with stream, anyio.create_task_group() as tg:
            tg.start_soon(consume)
            for message in first:
                server.publish(app, "t/n", message)
            await until(lambda: any(isinstance(item, StreamGap) for item in log))
            server.publish(app, "t/n", then)
            await until(lambda: log[-1] == then)
            await stream.aclose()
    return stream


async def test_a_drop_without_ids_is_reported_as_a_gap_before_the_next_event(
    no_ids: FakeLosant,
) -> None:
    server = no_ids
    server.faults.add(StreamDrop(every=2), action=MQTT)
    log: list[Any] = []  # messages and gaps, in the order the consumer saw them
    before = datetime.now(UTC)

    def on_gap(gap: StreamGap) -> None:
        log.append(gap)

    # The server ends the stream after "b".
    stream = await around_a_gap(server, log, on_gap, ["a", "b"], "c")
    assert len(log) == 4 and log[:2] == ["a", "b"] and log[3] == "c"
    gap = log[2]
    assert isinstance(gap, StreamGap)
    assert gap.reason == "closed" and gap.reconnects == 1 and gap.last_event_id == ""
    assert gap.start.tzinfo is UTC and gap.end.tzinfo is UTC
    assert before <= gap.start <= gap.end <= datetime.now(UTC)
    assert gap.duration == gap.end - gap.start
    stats = stream.stats
    assert (stats.gaps, stats.reconnects, stats.connects, stats.events) == (1, 1, 2, 3)
    assert [r.headers.get("Last-Event-ID") for r in stream_requests(server)] == [None, None]


async def test_a_drop_resumed_by_id_is_no_gap(client: LosantClient, server: FakeLosant) -> None:
    server.faults.add(StreamDrop(every=3), action=MQTT)
    app = server.ids.application_id
    gaps: list[StreamGap] = []

    async def on_gap(gap: StreamGap) -> None:
        gaps.append(gap)

    stream = mqtt(client, server)
    stream.on_gap = on_gap
    async with stream, anyio.create_task_group() as tg:
        tg.start_soon(publish_slowly, server, 12, lambda i: server.publish(app, "t/n", str(i)))
        got = await take(stream, 12)
    assert [m.message for m in got] == [str(i) for i in range(12)]
    assert stream.stats.reconnects >= 3
    assert gaps == [] and stream.stats.gaps == 0
    assert_resumed(stream_requests(server), stream.stats.reconnects)


async def test_a_silent_stream_without_ids_is_a_gap_with_its_async_handler(
    no_ids: FakeLosant,
) -> None:
    server = no_ids
    server.faults.add(StreamStall(after=1, seconds=30), action=MQTT, times=1)
    log: list[Any] = []

    async def on_gap(gap: StreamGap) -> None:
        await anyio.lowlevel.checkpoint()
        log.append(gap)

    # "unseen" is held back by the stalled connection, given up after 0.3 s of silence.
    stream = await around_a_gap(server, log, on_gap, ["before", "unseen"], "after")
    assert len(log) == 3 and log[0] == "before" and log[2] == "after"
    gap = log[1]
    assert isinstance(gap, StreamGap)
    assert gap.reason == "silent" and gap.reconnects == 1
    assert stream.stats.gaps == 1


async def test_a_gap_counts_the_attempts_it_took_and_the_handler_may_raise(
    scripted: Scripted,
) -> None:
    async def event_then_reset(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"data: one\n\n")
        await anyio.sleep(0.05)
        assert request.transport is not None
        request.transport.abort()  # the connection breaks mid-stream
        return resp

    scripted.script = [event_then_reset, reply(503), reply(503), one_write(b"data: two\n\n")]
    gaps: list[StreamGap] = []

    def on_gap(gap: StreamGap) -> None:
        gaps.append(gap)
        raise RuntimeError("handler failed")

    async with LosantClient("t", base_url=scripted.url) as c:
        stream = fast(c.stream("/sse", idle_timeout=5))
        stream.on_gap = on_gap
        async with stream:
            (one,) = await take(stream, 1)
            with anyio.fail_after(5), pytest.raises(RuntimeError, match="handler failed"):
                await take(stream, 1)
            (two,) = await take(stream, 1)  # the handler's failure left the stream usable
    assert (one.data, two.data) == ("one", "two")
    (gap,) = gaps
    assert gap.reason == "error" and gap.reconnects == 3
    assert stream.stats.gaps == 1 and stream.stats.reconnects == 3


async def test_max_reconnects_counts_attempts_in_a_row_only(
    client: LosantClient, server: FakeLosant
) -> None:
    # Every connection delivers one event and is dropped: many reconnects over the
    # stream's life, never two in a row without an event.
    server.faults.add(StreamDrop(every=1), action=MQTT)
    app = server.ids.application_id
    stream = mqtt(client, server)
    stream.max_reconnects = 1
    async with stream, anyio.create_task_group() as tg:
        tg.start_soon(publish_slowly, server, 8, lambda i: server.publish(app, "t/n", str(i)))
        got = await take(stream, 8)
    assert [m.message for m in got] == [str(i) for i in range(8)]
    assert stream.stats.reconnects >= 6


# --- the client's session, its settings and its close ----------------------------------------

SECRET = TOKEN  # what assert_token_not_in_frames looks for


async def _fails(errors: list[BaseException], step: Awaitable[object]) -> None:
    try:
        with anyio.fail_after(5):  # a hang guard
            await step
    except LosantError as exc:
        errors.append(exc)
    else:
        pytest.fail("expected a failure")


async def _drain(stream: EventStream[Any]) -> None:
    async with stream:
        async for _ in stream:
            pass


async def _iterate(stream: EventStream[Any]) -> None:
    try:
        async for _ in stream:
            pass
    finally:
        await stream.aclose()


def _gzipped_events(body: bytes) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=gzip.compress(body),
            headers={"Content-Type": "text/event-stream", "Content-Encoding": "gzip"},
        )

    return handler


@pytest.mark.fake_losant(token=SECRET)
async def test_the_token_is_in_no_frame_a_stream_error_passes_through(
    server: FakeLosant, scripted: Scripted
) -> None:
    app = server.ids.application_id
    errors: list[BaseException] = []
    big = "x" * 2000

    async def oversize(c: LosantClient) -> None:
        stream = mqtt(c, server)
        stream.max_event_size = 512
        async with stream:
            server.publish(app, "t/n", big)
            async for _ in stream:
                pass

    async with aiohttp.ClientSession() as session:
        options: list[dict[str, Any]] = [{}, {"session": session}]
        for kw in options:
            async with LosantClient(SECRET, base_url=server.url, **kw) as c:
                await _fails(errors, _drain(mqtt(c, server, topic="a/#/b")))  # 400
                server.faults.add(Status(401), action=MQTT)
                await _fails(errors, _drain(mqtt(c, server)))
                server.faults.clear()
                server.faults.add(Status(503), action=MQTT)
                limited = mqtt(c, server)
                limited.max_reconnects = 1
                await _fails(errors, _drain(limited))  # the reconnect limit
                server.faults.clear()
                await _fails(errors, oversize(c))
                open_stream = mqtt(c, server)
                await open_stream.__aenter__()
            await _fails(errors, _iterate(open_stream))  # the client closed under it
            await _fails(errors, _drain(mqtt(c, server)))  # opened after the close
            async with LosantClient(SECRET, base_url=scripted.url, **kw) as c:
                page = reply(200, b"<html>", **{"Content-Type": "text/html"})
                unfit = one_write(b"event: mqttMessage\ndata: [5]\n\n")
                for handler in (page, reply(204, b""), unfit):
                    scripted.script = [handler]
                    await _fails(errors, _drain(mqtt(c, server)))
            async with LosantClient(SECRET, base_url=_closed_port(), **kw) as c:
                refused = c.stream("/sse")
                refused.max_reconnects = 0
                await _fails(errors, _drain(refused))
    assert len(errors) == 2 * 10
    kinds = {type(e).__name__ for e in errors}
    assert {"BadRequestError", "AuthenticationError", "StreamError", "DecodeError"} <= kinds
    assert "ClientClosedError" in kinds
    for err in errors:
        assert_token_not_in_frames(err)


async def test_a_callers_session_settings_do_not_change_how_a_stream_handles_statuses(
    server: FakeLosant, scripted: Scripted
) -> None:
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        async with LosantClient(server.token, base_url=server.url, session=session) as c:
            with anyio.fail_after(5), pytest.raises(NotFoundError):  # not retried as a drop
                await c.application.mqtt_subscription_stream(
                    application_id=UNKNOWN_ID, topic="#"
                ).__aenter__()
            server.faults.add(Status(503, retry_after=0), action=MQTT, times=1)
            async with mqtt(c, server) as stream:  # a 503 is waited out, not raised
                server.publish(server.ids.application_id, "t/n", "after 503")
                (msg,) = await take(stream, 1)
    assert msg.message == "after 503"
    assert [r.status for r in stream_requests(server)] == [404, 503, 200]

    # Nor do its default timeout, base_url or auto_decompress.
    scripted.fallback = _gzipped_events(b"data: zipped\n\n")
    tiny = aiohttp.ClientTimeout(total=0.001)
    async with aiohttp.ClientSession(
        timeout=tiny, base_url=_closed_port(), auto_decompress=False
    ) as session:
        async with LosantClient("t", base_url=scripted.url, session=session) as c:
            stream = c.stream("/sse")
            stream.max_reconnects = 0
            async with stream:
                (event,) = await take(stream, 1)
    assert event.data == "zipped"


async def test_a_stream_connect_is_sent_as_often_as_the_stream_says(server: FakeLosant) -> None:
    # aiohttp re-sends an idempotent request once on a lost connection, beneath the
    # stream's own reconnects: each attempt reached the server twice.
    server.faults.add(ResetBefore(), action=MQTT)
    async with aiohttp.ClientSession() as session:
        options: list[dict[str, Any]] = [{}, {"session": session}]
        for kw in options:
            async with LosantClient(server.token, base_url=server.url, **kw) as c:
                for limit in (0, 2):
                    before = len(stream_requests(server))
                    stream = mqtt(c, server)
                    stream.max_reconnects = limit
                    with anyio.fail_after(5), pytest.raises(StreamError, match="cannot connect"):
                        await stream.__aenter__()
                    assert len(stream_requests(server)) - before == limit + 1
                    assert stream.stats.reconnects == limit


@pytest.mark.parametrize("own_session", [True, False])
async def test_a_stream_of_a_closed_client_fails_at_once(
    server: FakeLosant, own_session: bool
) -> None:
    app = server.ids.application_id
    async with aiohttp.ClientSession() as session:
        kw: dict[str, Any] = {} if own_session else {"session": session}
        c = LosantClient(server.token, base_url=server.url, **kw)
        reading, waiting, fresh = mqtt(c, server), mqtt(c, server), mqtt(c, server)
        for stream in (reading, waiting):
            stream.backoff_base = stream.backoff_max = 60  # a reconnect would wait a minute
        outcomes: dict[str, BaseException] = {}

        async def run(name: str, stream: EventStream[Any]) -> None:
            try:
                async for _ in stream:
                    pass
            except BaseException as exc:
                outcomes[name] = exc

        await reading.__aenter__()
        server.faults.add(StreamDrop(every=1), action=MQTT, times=1)
        await waiting.__aenter__()
        with anyio.fail_after(10):  # a hang guard: each wait would be 60 s
            async with anyio.create_task_group() as tg:
                tg.start_soon(run, "reading", reading)
                tg.start_soon(run, "waiting", waiting)
                server.publish(app, "t/n", "one")  # ends the waiting stream's connection
                await until(lambda: waiting.stats.reconnects == 1)
                await anyio.wait_all_tasks_blocked()
                await c.aclose()
                server.publish(app, "t/n", "after the close")
            with pytest.raises(ClientClosedError):
                await fresh.__aenter__()
        for stream in (reading, waiting):
            await stream.aclose()
    assert set(outcomes) == {"reading", "waiting"}
    for name, exc in outcomes.items():
        assert isinstance(exc, ClientClosedError), (name, exc)
    await until(lambda: server.stats.open_streams == 0)
