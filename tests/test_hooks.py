"""Hooks against the local Losant server: what each callback sees, in which order, for
calls, retries, failures, cancellation and stream reconnects; a hook that raises; and
``LOSANT_LOG``, the library's logging without code, which never shows the token."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import anyio
import msgspec
import pytest

from losant_async import Hooks, LosantClient, RetryPolicy, models
from losant_async._logging import _EnvHandler, configure_from_env
from losant_async.errors import APIConnectionError, NotFoundError, ServerError
from losant_async.hooks import (
    RequestEvent,
    ResponseEvent,
    RetryEvent,
    StreamReconnectEvent,
)
from losant_async.testing import FakeLosant, Latency, Status, StreamDrop, StreamStall
from tests.test_sse_live import Drain, read_across_a_drop, until

pytestmark = [pytest.mark.anyio, pytest.mark.fake_losant(token="tok-hooks-secret-42")]

FAST = RetryPolicy(backoff_base=0.001, backoff_max=0.01)
DEVICE = "/applications/{applicationId}/devices/{deviceId}"
MQTT = "application.mqttSubscriptionStream"
Event = RequestEvent | ResponseEvent | RetryEvent | StreamReconnectEvent


class Recorder:
    """Every event of every hook, in the order the hooks were called."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def hooks(self) -> Hooks:
        return Hooks(
            on_request=self.events.append,
            on_response=self.events.append,
            on_retry=self.events.append,
            on_stream_reconnect=self.events.append,
        )

    def kinds(self) -> list[str]:
        return [type(e).__name__.removesuffix("Event") for e in self.events]

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def seen() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(server: FakeLosant, seen: Recorder) -> AsyncIterator[LosantClient]:
    async with LosantClient(server.token, base_url=server.url, retry=FAST, hooks=seen.hooks()) as c:
        yield c


# --- calls ------------------------------------------------------------------------------


async def test_a_retried_call_reports_each_attempt_in_order(
    client: LosantClient, server: FakeLosant, seen: Recorder
) -> None:
    ids = server.ids
    server.faults.add(Status(503), action="device.get", times=1)
    device = await client.device.get(application_id=ids.application_id, device_id=ids.device_id)
    assert device.id == ids.device_id

    assert seen.kinds() == ["Request", "Response", "Retry", "Request", "Response"]
    path = f"/applications/{ids.application_id}/devices/{ids.device_id}"
    for event in seen.events:
        assert isinstance(event, RequestEvent | ResponseEvent | RetryEvent)
        assert (event.action, event.method, event.path_template, event.path) == (
            "device.get",
            "GET",
            DEVICE,
            path,
        )
    first, second = seen.of(ResponseEvent)
    assert (first.attempt, first.status, type(first.error)) == (1, 503, ServerError)
    assert (second.attempt, second.status, second.error) == (2, 200, None)
    assert first.elapsed >= 0 and second.elapsed >= 0
    (retry,) = seen.of(RetryEvent)
    assert (retry.attempt, retry.status, retry.error) == (1, 503, first.error)
    assert 0 <= retry.delay <= FAST.backoff_max
    assert [e.attempt for e in seen.of(RequestEvent)] == [1, 2]
    # What the server saw matches what the hooks said.
    assert [e.status for e in server.journal.for_action("device.get")] == [503, 200]


async def test_a_call_that_fails_for_good_ends_with_its_error(
    client: LosantClient, server: FakeLosant, seen: Recorder
) -> None:
    unknown = "0123456789abcdef01234567"
    with pytest.raises(NotFoundError) as caught:
        await client.device.get(application_id=server.ids.application_id, device_id=unknown)
    assert seen.kinds() == ["Request", "Response"]
    (response,) = seen.of(ResponseEvent)
    assert response.status == 404 and response.error is caught.value


async def test_raw_requests_have_no_action_nor_template(
    client: LosantClient, server: FakeLosant, seen: Recorder
) -> None:
    path = f"/applications/{server.ids.application_id}"
    await client.request("GET", path, params={"_links": False})
    request, response = seen.events
    assert isinstance(request, RequestEvent) and isinstance(response, ResponseEvent)
    assert (request.action, request.path_template, request.path) == (None, None, path)
    assert (response.action, response.status) == (None, 200)


async def test_a_connection_failure_has_no_status_and_the_connection_error() -> None:
    from tests.test_transport import _closed_port

    seen = Recorder()
    retry = RetryPolicy(max_retries=1, backoff_base=0.001, backoff_max=0.001)
    async with LosantClient("t", base_url=_closed_port(), retry=retry, hooks=seen.hooks()) as c:
        with pytest.raises(APIConnectionError):
            await c.application.get(application_id="0123456789abcdef01234567")
    assert seen.kinds() == ["Request", "Response", "Retry", "Request", "Response"]
    failures = seen.of(ResponseEvent)
    assert [(r.status, type(r.error)) for r in failures] == [(None, APIConnectionError)] * 2
    (retry_event,) = seen.of(RetryEvent)
    assert retry_event.status is None and retry_event.error is failures[0].error


async def test_a_cancelled_attempt_still_gets_its_response_event(
    client: LosantClient, server: FakeLosant, seen: Recorder
) -> None:
    ids = server.ids
    server.faults.add(Latency(30), action="device.get", times=1)
    with anyio.fail_after(10):  # a hang guard only
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await client.device.get(application_id=ids.application_id, device_id=ids.device_id)

            tg.start_soon(call)
            await until(lambda: bool(seen.events))  # the attempt was sent
            tg.cancel_scope.cancel()
    assert seen.kinds() == ["Request", "Response"]
    (response,) = seen.of(ResponseEvent)
    assert response.status is None and isinstance(response.error, asyncio.CancelledError)


async def test_events_are_frozen_and_never_hold_the_token(
    client: LosantClient, server: FakeLosant, seen: Recorder
) -> None:
    ids = server.ids
    server.faults.add(Status(503), action="device.get", times=1)
    await client.device.get(application_id=ids.application_id, device_id=ids.device_id)
    with pytest.raises(NotFoundError):
        await client.device.get(
            application_id=ids.application_id, device_id="0123456789abcdef01234567"
        )
    assert len(seen.events) == 7
    for event in seen.events:
        fields = msgspec.structs.asdict(event)
        assert "headers" not in fields
        assert server.token not in repr(event)
        assert all(server.token not in str(v) for v in fields.values())
        with pytest.raises(AttributeError):
            event.attempt = 9  # type: ignore[misc]


# --- a hook that raises, a hook that is not a function -------------------------------------


async def test_a_raising_hook_is_logged_and_the_call_goes_on(
    server: FakeLosant, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: object) -> None:
        raise ValueError("a bug in a metrics hook")

    hooks = Hooks(on_request=broken, on_response=broken, on_retry=broken)
    server.faults.add(Status(503), action="application.get", times=1)
    async with LosantClient(server.token, base_url=server.url, retry=FAST, hooks=hooks) as c:
        with caplog.at_level(logging.ERROR, logger="losant_async"):
            app = await c.application.get(application_id=server.ids.application_id)
    assert isinstance(app, models.Application)
    failures = [r for r in caplog.records if r.name == "losant_async" and r.exc_info]
    assert [r.getMessage() for r in failures] == [
        "the on_request hook raised; the call goes on",
        "the on_response hook raised; the call goes on",
        "the on_retry hook raised; the call goes on",
        "the on_request hook raised; the call goes on",
        "the on_response hook raised; the call goes on",
    ]
    assert all(r.exc_info and isinstance(r.exc_info[1], ValueError) for r in failures)


async def test_a_hook_returning_a_coroutine_is_not_left_unawaited(
    server: FakeLosant, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[object] = []

    async def record(event: object) -> None:
        ran.append(event)

    hooks = Hooks(on_request=lambda e: record(e))  # type: ignore[arg-type]
    async with LosantClient(server.token, base_url=server.url, hooks=hooks) as c:
        with caplog.at_level(logging.ERROR, logger="losant_async"):
            await c.application.get(application_id=server.ids.application_id)
    # Closed, not run: no "coroutine was never awaited" warning (an error in this suite).
    assert ran == []
    assert [r.getMessage() for r in caplog.records] == [
        "the on_request hook returned a coroutine, which was not run"
    ]


async def _async_hook(event: object) -> None:
    pass


class _AsyncCallable:
    async def __call__(self, event: object) -> None:
        pass


@pytest.mark.parametrize("hook", [_async_hook, _AsyncCallable(), "print", 3])
def test_hooks_refuse_what_they_cannot_call(hook: object) -> None:
    with pytest.raises(TypeError, match="on_retry"):
        Hooks(on_retry=hook)  # type: ignore[arg-type]


def test_hooks_are_frozen_and_the_client_takes_only_hooks() -> None:
    hooks = Hooks(on_request=print)
    with pytest.raises(dataclasses.FrozenInstanceError):
        hooks.on_request = None  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"hooks must be a losant_async\.hooks\.Hooks"):
        LosantClient("t", base_url="http://127.0.0.1:9", hooks=print)  # type: ignore[arg-type]


# --- streams ----------------------------------------------------------------------------


def fast_stream(client: LosantClient, server: FakeLosant) -> Any:
    stream = client.application.mqtt_subscription_stream(
        application_id=server.ids.application_id, topic="t/#", keep_alive_interval="0.1"
    )
    stream.backoff_base = 0.001
    stream.backoff_max = 0.005
    stream.max_reconnects = 50
    return stream


async def test_a_dropped_stream_reports_its_reconnect(
    client: LosantClient, server: FakeLosant, seen: Recorder
) -> None:
    server.faults.add(StreamDrop(every=1), action=MQTT, times=1)
    app = server.ids.application_id
    stream = fast_stream(client, server)
    got = await read_across_a_drop(stream, server, app)
    assert got == ["1", "2"]
    (event,) = seen.events
    assert isinstance(event, StreamReconnectEvent)
    assert (event.action, event.path_template, event.path) == (
        MQTT,
        "/applications/{applicationId}/mqttSubscriptionStream",
        f"/applications/{app}/mqttSubscriptionStream",
    )
    assert (event.attempt, event.reason, event.status, event.error) == (1, "closed", None, None)
    assert 0 <= event.delay <= stream.backoff_max
    assert stream.stats.reconnects == 1


async def test_a_refused_stream_connect_reports_status_and_error(
    client: LosantClient, server: FakeLosant, seen: Recorder
) -> None:
    server.faults.add(Status(503), action=MQTT, times=2)
    stream = fast_stream(client, server)
    with anyio.fail_after(10):
        async with stream:
            pass
    events = seen.of(StreamReconnectEvent)
    assert [(e.attempt, e.reason, e.status) for e in events] == [
        (1, "refused", 503),
        (2, "refused", 503),
    ]
    assert all(isinstance(e.error, ServerError) for e in events)
    assert stream.stats.connects == 1 and stream.stats.reconnects == 2


async def test_a_silent_stream_reports_its_reconnect_as_silent(
    client: LosantClient, server: FakeLosant, seen: Recorder
) -> None:
    # Silent (no event, no keep-alive) past the watchdog's 3 x keep_alive_interval.
    server.faults.add(StreamStall(after=0, seconds=30), action=MQTT, times=1)
    stream = fast_stream(client, server)
    with anyio.fail_after(10):  # a hang guard only
        async with stream, anyio.create_task_group() as tg:
            tg.start_soon(Drain(stream))
            await until(lambda: stream.stats.connects == 2)
            await stream.aclose()
    (event,) = seen.of(StreamReconnectEvent)
    assert (event.attempt, event.reason, event.status, event.error) == (1, "silent", None, None)


async def test_raw_streams_report_reconnects_without_an_action(
    client: LosantClient, server: FakeLosant, seen: Recorder
) -> None:
    server.faults.add(Status(503), action=MQTT, times=1)
    path = f"/applications/{server.ids.application_id}/mqttSubscriptionStream"
    stream = client.stream(path, params={"topic": "t/#"})
    stream.backoff_base = stream.backoff_max = 0.001
    with anyio.fail_after(10):
        async with stream:
            pass
    (event,) = seen.of(StreamReconnectEvent)
    assert (event.action, event.path_template, event.path, event.status) == (
        None,
        None,
        path,
        503,
    )


# --- LOSANT_LOG -------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import anyio, sys
    from losant_async import LosantClient, NotFoundError, RetryPolicy

    async def main() -> None:
        app, device = sys.argv[1], sys.argv[2]
        retry = RetryPolicy(backoff_base=0.001, backoff_max=0.001)
        async with LosantClient(retry=retry) as client:  # token and URL from the environment
            await client.device.get(application_id=app, device_id=device)
            try:
                await client.device.get(application_id=app, device_id="0" * 24)
            except NotFoundError:
                pass
            stream = client.application.mqtt_subscription_stream(application_id=app, topic="#")
            stream.backoff_base = stream.backoff_max = 0.001
            gap = anyio.Event()
            stream.on_gap = lambda _: gap.set()
            with anyio.fail_after(10):
                async with stream, anyio.create_task_group() as tg:
                    await client.application.mqtt_publish_message(
                        application_id=app, payload={"topic": "t", "message": "1"}
                    )
                    tg.start_soon(read, stream)
                    await gap.wait()  # the server dropped the stream after the event
                    tg.cancel_scope.cancel()

    async def read(stream) -> None:
        async for _ in stream:
            pass

    anyio.run(main)
    """
)


async def run_child(server: FakeLosant, log: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOSANT_")}
    env |= {"LOSANT_API_TOKEN": server.token, "LOSANT_API_URL": server.url}
    if log is not None:
        env["LOSANT_LOG"] = log
    ids = server.ids
    server.faults.add(StreamDrop(every=1), action=MQTT)
    done = await anyio.run_process(
        [sys.executable, "-c", CHILD, ids.application_id, ids.device_id], env=env, check=False
    )
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr
    return stderr


async def test_losant_log_debug_logs_every_attempt_but_never_the_token(
    server: FakeLosant,
) -> None:
    ids = server.ids
    server.faults.add(Status(503), action="device.get", times=1)
    server.faults.add(Status(503), action=MQTT, times=1)
    stderr = await run_child(server, "debug")
    path = f"/applications/{ids.application_id}/devices/{ids.device_id}"
    for line in (
        f"DEBUG losant_async: GET {path} -> 503 (attempt 1,",
        f"DEBUG losant_async: GET {path}: retrying in",
        f"DEBUG losant_async: GET {path} -> 200 (attempt 2,",
        "-> 404 (attempt 1,",
        f"stream /applications/{ids.application_id}/mqttSubscriptionStream: status 503, retrying",
        f"stream /applications/{ids.application_id}/mqttSubscriptionStream: connected",
        "server closed the stream, reconnecting",
        "reconnected without resuming",
    ):
        assert line in stderr
    assert server.token not in stderr
    assert server.token[:8] not in stderr  # not even a part of it


async def test_losant_log_info_leaves_out_the_debug_lines(server: FakeLosant) -> None:
    stderr = await run_child(server, "INFO")
    stream = f"/applications/{server.ids.application_id}/mqttSubscriptionStream"
    assert f"INFO losant_async: stream {stream}: reconnected without resuming;" in stderr
    assert "DEBUG" not in stderr and "-> 200" not in stderr
    assert server.token not in stderr


async def test_without_losant_log_the_library_is_silent(server: FakeLosant) -> None:
    assert await run_child(server, None) == ""


async def test_a_losant_log_value_not_understood_says_so(server: FakeLosant) -> None:
    stderr = await run_child(server, "verbose")
    assert stderr == (
        "losant_async: LOSANT_LOG='verbose' is not one of debug, info, warning, error; "
        "logging left as it is\n"
    )


def test_configure_from_env_adds_its_handler_once() -> None:
    logger = logging.getLogger("losant_async")
    level, handlers = logger.level, list(logger.handlers)
    try:
        assert configure_from_env({"LOSANT_LOG": "debug"}) == logging.DEBUG
        assert configure_from_env({"LOSANT_LOG": " Info "}) == logging.INFO
        assert logger.level == logging.INFO
        assert [type(h) for h in logger.handlers if h not in handlers] == [_EnvHandler]
        assert configure_from_env({}) is None
    finally:
        for h in [h for h in logger.handlers if h not in handlers]:
            logger.removeHandler(h)
        logger.setLevel(level)


# --- the pipeline's other ways in: token rotation, copies, raw responses -------------------


async def test_a_401_sent_again_with_a_fresh_token_is_a_retry_without_delay(
    server: FakeLosant, seen: Recorder
) -> None:
    tokens = iter(["stale-token-1", server.token])
    async with LosantClient(lambda: next(tokens), base_url=server.url, hooks=seen.hooks()) as c:
        await c.me.get()
    assert seen.kinds() == ["Request", "Response", "Retry", "Request", "Response"]
    first, second = seen.of(ResponseEvent)
    assert (first.attempt, first.status, second.attempt, second.status) == (1, 401, 2, 200)
    (retry,) = seen.of(RetryEvent)
    assert (retry.attempt, retry.status, retry.delay) == (1, 401, 0.0)
    assert all("stale-token" not in repr(e) and server.token not in repr(e) for e in seen.events)


async def test_a_copy_with_other_options_keeps_the_hooks(
    client: LosantClient, server: FakeLosant, seen: Recorder
) -> None:
    server.faults.add(Status(503), action="application.get", times=1)
    with pytest.raises(ServerError):
        await client.with_options(max_retries=0).application.get(
            application_id=server.ids.application_id
        )
    assert seen.kinds() == ["Request", "Response"]


async def test_raw_responses_count_the_attempts_the_hooks_saw(
    client: LosantClient, server: FakeLosant, seen: Recorder
) -> None:
    ids = server.ids
    server.faults.add(Status(503), action="device.get", times=1)
    raw = await client.with_raw_response.device.get(
        application_id=ids.application_id, device_id=ids.device_id
    )
    assert raw.attempts == len(seen.of(RequestEvent)) == 2
    assert [e.status for e in seen.of(ResponseEvent)] == [503, raw.status]
    assert {e.action for e in seen.events} == {"device.get"}
