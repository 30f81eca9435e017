"""Raw responses, client-wide default headers and query, and token rotation, against the
local Losant server (and a scripted one where the server's own checks would refuse a
made-up parameter)."""

from __future__ import annotations

import dataclasses
import importlib
import logging
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from aiohttp import web

from losant_async import (
    AuthenticationError,
    LosantClient,
    NotFoundError,
    RawResponse,
    RetryPolicy,
    models,
)
from losant_async._generated.client import RESOURCES
from losant_async.testing import FakeLosant, Status
from tests.conftest import Scripted, reply
from tests.test_transport import TOKEN, assert_token_not_in_frames

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.fake_losant(token=TOKEN, orgs=1, sandboxes=0, apps_per_org=1, stream_ids=False),
]
FAST = RetryPolicy(backoff_base=0.001, backoff_max=0.01)


def client(server: FakeLosant, **kw: Any) -> LosantClient:
    kw.setdefault("retry", FAST)
    kw.setdefault("token", TOKEN)
    return LosantClient(base_url=server.url, **kw)


# -- raw responses -----------------------------------------------------------------------


async def test_a_raw_response_has_status_headers_bytes_attempts_and_the_model(
    server: FakeLosant,
) -> None:
    app_id = server.ids.application_id
    server.faults.add(Status(503), action="application.get", times=1)
    async with client(server) as c:
        raw = await c.with_raw_response.application.get(application_id=app_id)
        assert isinstance(raw, RawResponse)
        assert raw.status == 200 and raw.attempts == 2 and raw.elapsed >= 0
        assert raw.headers["content-type"].startswith("application/json")
        assert raw.content == server.journal.last("application.get").response
        app = raw.parse()
        assert isinstance(app, models.Application) and app.id == app_id
        assert app == await c.application.get(application_id=app_id)
        again = await c.with_raw_response.application.get(application_id=app_id)
        assert again.attempts == 1
        with pytest.raises(dataclasses.FrozenInstanceError):
            raw.status = 201  # type: ignore[misc]
        me = await c.with_raw_response.request("GET", "/me")
        assert me.status == 200 and me.parse()["id"] == (await c.me.get()).id
        # Errors are the typed errors, as on the normal path.
        with pytest.raises(NotFoundError):
            await c.with_raw_response.application.get(application_id="0" * 24)


async def test_every_resource_is_reachable_with_raw_responses(server: FakeLosant) -> None:
    async with client(server) as c:
        for attr, cls in RESOURCES.items():
            resource = getattr(c.with_raw_response, attr)
            module = importlib.import_module(f"losant_async._generated.resources.{attr}")
            assert type(resource) is getattr(module, cls)
        # A body, and a stream: streams are as they are.
        ids = server.ids
        sent = await c.with_raw_response.device.send_state(
            application_id=ids.application_id,
            device_id=ids.device_id,
            device_state={"data": {"temp": 21}},
        )
        assert sent.status == 200 and sent.parse() == models.Success(success=True)
        stream = c.with_raw_response.device.state_stream(
            application_id=ids.application_id, device_id=ids.device_id
        )
        async with stream:
            assert stream.stats.connects == 1


# -- default headers and query ------------------------------------------------------------


async def test_default_headers_reach_calls_and_streams_under_per_call_values(
    server: FakeLosant,
) -> None:
    ids = server.ids
    defaults = {"losantdomain": "plant.example", "X-Team": "ops"}
    async with client(server, default_headers=defaults) as c:
        await c.me.get()
        await c.me.get(losantdomain="other.example")
        await c.request("GET", "/me", headers={"X-Team": "night"})
        async with c.device.state_stream(
            application_id=ids.application_id, device_id=ids.device_id
        ):
            pass
        async with c.with_options(timeout=5).stream(
            f"/applications/{ids.application_id}/devices/{ids.device_id}/stateStream"
        ):
            pass
    seen = [e for e in server.journal if e.action in ("me.get", "device.stateStream")]
    assert [e.headers.get("losantdomain") for e in seen] == [
        "plant.example",
        "other.example",
        "plant.example",
        "plant.example",
        "plant.example",
    ]
    assert [e.headers.get("X-Team") for e in seen] == ["ops", "ops", "night", "ops", "ops"]
    assert all(e.headers["Authorization"] == f"Bearer {TOKEN}" for e in seen)


async def test_default_query_goes_with_every_request_under_per_call_values(
    scripted: Scripted,
) -> None:
    scripted.fallback = reply(200, {})
    defaults = {"trace": "on", "_embedded": False, "tags": ["a", "b"]}
    async with LosantClient(TOKEN, base_url=scripted.url, default_query=defaults) as c:
        await c.me.get()
        await c.request("GET", "/raw?tags=z", params={"trace": "off"})
        await c.request("GET", "/plain")
        scripted.fallback = one_event
        async with c.stream("/events", params={"trace": "stream"}) as stream:
            async for _ in stream:
                break
    first, second, third, events = (dict_of(s.query) for s in scripted.seen)
    assert events == {
        "trace": ["stream"],
        "_embedded": ["false"],
        "tags[0]": ["a"],
        "tags[1]": ["b"],
    }
    assert first == {
        "_actions": ["false"],
        "_links": ["true"],
        "_embedded": ["true"],  # the call's own value wins
        "trace": ["on"],
        "tags[0]": ["a"],
        "tags[1]": ["b"],
    }
    assert second == {"tags": ["z"], "trace": ["off"], "_embedded": ["false"]}
    assert third == {"trace": ["on"], "_embedded": ["false"], "tags[0]": ["a"], "tags[1]": ["b"]}


async def one_event(request: web.Request) -> web.StreamResponse:
    # One event, then the server closes the stream: the client reconnects.
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"data: hello\n\n")
    return response


def dict_of(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in pairs:
        found.setdefault(key, []).append(value)
    return found


def test_bad_default_headers_are_refused_before_any_request() -> None:
    with pytest.raises(ValueError, match="token="):
        LosantClient(TOKEN, default_headers={"Authorization": "Bearer x"})
    with pytest.raises(ValueError, match="control"):
        LosantClient(TOKEN, default_headers={"X-A": "1\r\nX-B: 2"})
    with pytest.raises(TypeError, match="default_headers"):
        LosantClient(TOKEN, default_headers={"X-A": 1})  # type: ignore[dict-item]


# -- token rotation -------------------------------------------------------------------------


class Provider:
    """A token provider that counts its calls; ``tokens`` are handed out in turn, the
    last one again once they run out."""

    def __init__(self, *tokens: str, is_async: bool = False) -> None:
        self.tokens = list(tokens)
        self.asked = 0
        self.is_async = is_async

    def _next(self) -> str:
        self.asked += 1
        return self.tokens.pop(0) if len(self.tokens) > 1 else self.tokens[0]

    def __call__(self) -> Any:
        if not self.is_async:
            return self._next()

        async def give() -> str:
            await anyio.lowlevel.checkpoint()
            return self._next()

        return give()


@pytest.mark.parametrize("is_async", [False, True])
async def test_a_token_provider_is_asked_on_first_use_and_again_on_a_401(
    server: FakeLosant, is_async: bool
) -> None:
    provider = Provider(TOKEN, "rotated", is_async=is_async)
    async with client(server, token=provider) as c:
        assert provider.asked == 0  # not before the first call
        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(c.me.get)
        assert provider.asked == 1  # concurrent first calls ask once
        server.token = "rotated"
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(c.me.get)
        assert provider.asked == 2  # concurrent 401s ask once
    statuses = [e.status for e in server.journal.for_action("me.get")]
    assert statuses.count(200) == 8 and statuses.count(401) == 3
    assert server.journal.last("me.get").headers["Authorization"] == "Bearer rotated"


async def test_a_second_401_is_the_typed_error(server: FakeLosant) -> None:
    provider = Provider("wrong-1", "wrong-2", "wrong-3")
    async with client(server, token=provider) as c:
        with pytest.raises(AuthenticationError) as info:
            await c.me.get()
        raw_error = info.value
        assert provider.asked == 2  # first use, then once after the 401
    assert [e.status for e in server.journal.for_action("me.get")] == [401, 401]
    assert "wrong" not in str(raw_error) and "wrong" not in repr(raw_error)


async def test_a_stream_asks_for_a_token_before_each_reconnect(scripted: Scripted) -> None:
    scripted.fallback = one_event
    provider = Provider("t1", "t2", "t3", "t4")
    async with LosantClient(provider, base_url=scripted.url) as c:
        stream = c.stream("/events")
        stream.backoff_base, stream.backoff_max = 0.001, 0.005
        got = []
        async with stream:
            with anyio.fail_after(10):
                async for event in stream:
                    got.append(event.data)
                    if len(got) == 3:
                        break
    assert got == ["hello"] * 3
    # First use, then once before each reconnect; each connection with its own token.
    assert [s.headers["Authorization"] for s in scripted.seen] == [
        "Bearer t1",
        "Bearer t2",
        "Bearer t3",
    ]
    assert provider.asked == 3


async def test_a_rotated_token_is_in_no_frame_log_or_repr(
    server: FakeLosant, caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[BaseException] = []
    caplog.set_level(logging.DEBUG, logger="losant_async")
    provider = Provider("stale-" + TOKEN, TOKEN)

    async def fails(coro: Any) -> None:
        try:
            await coro
        except Exception as exc:
            errors.append(exc)

    async with client(server, token=provider) as c:
        assert TOKEN not in repr(c) and TOKEN not in repr(c._transport._pool.auth)
        await c.me.get()  # a 401, then the fresh token
        await fails(c.application.get(application_id="0" * 24))
        server.faults.add(Status(status=500), action="application.get")
        await fails(c.application.get(application_id=server.ids.application_id))
        server.faults.clear()
        server.token = "elsewhere"
        await fails(c.me.get())  # 401 twice
    await fails(c.me.get())  # closed

    def bad() -> str:
        return TOKEN + "\n\x00"

    async with client(server, token=bad) as c:
        await fails(c.me.get())

    async def broken() -> str:
        raise RuntimeError("the vault is sealed")

    async with client(server, token=broken) as c:
        await fails(c.me.get())
    assert [type(e).__name__ for e in errors] == [
        "NotFoundError",
        "ServerError",
        "AuthenticationError",
        "ClientClosedError",
        "ValueError",
        "RuntimeError",
    ]
    for err in errors[:-1]:
        assert_token_not_in_frames(err)
    assert TOKEN not in caplog.text and "stale" not in caplog.text
