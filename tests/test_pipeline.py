"""One pipeline and frozen configuration, against the local Losant server: calls, raw
requests and streams built and sent the same way; ``Timeout``, ``RetryPolicy``,
``RateLimit`` and ``StreamOptions`` checked once and frozen; the retry budget's state per
client; ``NOT_GIVEN`` against ``None``; ``with_options`` copies on one pool."""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

import losant_async._generated.resources as resources_pkg
from losant_async import (
    NOT_GIVEN,
    APITimeoutError,
    ClientClosedError,
    LosantClient,
    NotFoundError,
    NotGiven,
    RateLimit,
    RetryBudget,
    RetryPolicy,
    ServerError,
    StreamOptions,
    Timeout,
)
from losant_async.testing import FakeLosant, Latency, Status

TOKEN = "tok-pipeline-456"
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.fake_losant(token=TOKEN, orgs=1, sandboxes=0, apps_per_org=1),
]
FAST = RetryPolicy(backoff_base=0.001, backoff_max=0.01)


def client(server: FakeLosant, **kw: Any) -> LosantClient:
    kw.setdefault("retry", FAST)
    return LosantClient(TOKEN, base_url=server.url, **kw)


# -- frozen configuration ----------------------------------------------------------------


def test_configuration_is_frozen_and_checked_once() -> None:
    policy = RetryPolicy()
    for obj, name, value in [
        (policy, "max_retries", 5),
        (policy.budget, "capacity", 1.0),
        (Timeout(), "total", 1.0),
        (RateLimit(5), "rate", 1.0),
        (StreamOptions(), "max_reconnects", 1),
    ]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, value)
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
    with pytest.raises(TypeError, match="backoff_base"):
        RetryPolicy(backoff_base="1")  # type: ignore[arg-type]
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match=r"RetryPolicy's backoff_max .* >= 0"):
            RetryPolicy(backoff_max=bad)
        with pytest.raises(ValueError, match=r"retry_after_max .* >= 0"):
            StreamOptions(retry_after_max=bad)
    with pytest.raises(ValueError, match="capacity"):
        RetryBudget(capacity=-1)
    with pytest.raises(ValueError, match="idle_timeout"):
        StreamOptions(idle_timeout=0)
    with pytest.raises(ValueError, match="max_reconnects"):
        StreamOptions(max_reconnects=-1)
    with pytest.raises(TypeError, match="on_gap"):
        StreamOptions(on_gap="print")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="retry"):
        LosantClient(TOKEN, retry="3")  # type: ignore[arg-type]


async def test_two_clients_given_one_policy_do_not_share_a_budget(server: FakeLosant) -> None:
    storm = server.faults.add(Status(503), action="application.get")
    policy = RetryPolicy(max_retries=3, backoff_base=0.001, budget=RetryBudget(capacity=1))
    app_id = server.ids.application_id
    async with client(server, retry=policy) as first, client(server, retry=policy) as second:
        with pytest.raises(ServerError):
            await first.application.get(application_id=app_id)
        assert storm.hits == 2  # 1 try + the 1 retry the budget allows
        with pytest.raises(ServerError):
            await first.application.get(application_id=app_id)
        assert storm.hits == 3  # the first client's budget is spent
        with pytest.raises(ServerError):
            await second.application.get(application_id=app_id)
        assert storm.hits == 5  # the second client's is whole


# -- NOT_GIVEN and None ------------------------------------------------------------------


def test_not_given_is_the_generated_default() -> None:
    assert repr(NOT_GIVEN) == "NOT_GIVEN" and not NOT_GIVEN
    assert isinstance(NOT_GIVEN, NotGiven)
    c = LosantClient(TOKEN)
    for method in (c.device.get, c.device.state_stream, c.request, c.instance_orgs.iterate):
        assert inspect.signature(method).parameters["timeout"].default is NOT_GIVEN


async def test_a_per_call_timeout_of_none_is_no_limit(server: FakeLosant) -> None:
    server.faults.add(Latency(0.3), action="me.get")
    async with client(server, timeout=0.05, retry=0) as c:
        with pytest.raises(APITimeoutError):
            await c.me.get()  # the client's 0.05 s
        with pytest.raises(APITimeoutError):
            await c.request("GET", "/me")
        me = await c.me.get(timeout=None)
        assert me.id is not None
        assert (await c.request("GET", "/me", timeout=None))["id"] == me.id


# -- one pipeline ------------------------------------------------------------------------


@pytest.mark.parametrize("own_session", [True, False])
async def test_calls_raw_requests_and_streams_carry_the_same_headers(
    server: FakeLosant, own_session: bool
) -> None:
    ids = server.ids
    async with aiohttp.ClientSession() as session:
        kw: dict[str, Any] = {"accept_version": "^1.29.0"}
        if not own_session:
            kw["session"] = session
        async with client(server, **kw) as c:
            await c.application.get(application_id=ids.application_id, losantdomain="a.example")
            await c.request("GET", f"/applications/{ids.application_id}")
            stream = c.device.state_stream(
                application_id=ids.application_id, device_id=ids.device_id, losantdomain="a.example"
            )
            async with stream:
                pass
    seen = [e for e in server.journal if e.action in ("application.get", "device.stateStream")]
    assert len(seen) == 3
    for entry in seen:
        assert entry.headers["Accept-Version"] == "^1.29.0"
        assert entry.headers["Authorization"] == f"Bearer {TOKEN}"
        assert entry.headers["User-Agent"].startswith("losant_async/")
    assert [e.headers.get("losantdomain") for e in seen] == ["a.example", None, "a.example"]
    assert seen[-1].headers["Accept"] == "text/event-stream"


async def test_a_stream_and_a_call_map_a_status_to_the_same_error(server: FakeLosant) -> None:
    app_id, missing = server.ids.application_id, "0" * 24
    async with client(server) as c:
        with pytest.raises(NotFoundError) as call:
            await c.device.get(application_id=app_id, device_id=missing)
        with pytest.raises(NotFoundError) as stream:
            async with c.device.state_stream(application_id=app_id, device_id=missing):
                pass
    assert (call.value.status, call.value.type) == (stream.value.status, stream.value.type)


async def test_stream_settings_are_frozen_options(server: FakeLosant) -> None:
    async with client(server) as c:
        stream = c.device.state_stream(
            application_id=server.ids.application_id,
            device_id=server.ids.device_id,
            keep_alive_interval=4,
        )
        assert stream.options == StreamOptions(idle_timeout=12.0)
        before = stream.options
        stream.max_reconnects = 3
        assert stream.options == dataclasses.replace(before, max_reconnects=3)
        assert before.max_reconnects is None  # a new StreamOptions, the old one unchanged
        with pytest.raises(ValueError, match="backoff_max"):
            stream.backoff_max = -1
        with pytest.raises(TypeError, match="max_event_size"):
            stream.max_event_size = 1.5  # type: ignore[assignment]
        assert stream.options.max_reconnects == 3 and stream.options.backoff_max == 60.0


def test_generated_code_passes_named_arguments() -> None:
    for info in pkgutil.iter_modules(resources_pkg.__path__):
        module = importlib.import_module(f"{resources_pkg.__name__}.{info.name}")
        source = Path(inspect.getfile(module)).read_text()
        assert "locals()" not in source, info.name


# -- with_options ------------------------------------------------------------------------


async def test_with_options_shares_the_pool_and_changes_only_what_it_is_given(
    server: FakeLosant,
) -> None:
    server.faults.add(Latency(0.3), action="me.get")
    async with client(server) as c:
        quick = c.with_options(timeout=0.05, max_retries=0)
        with pytest.raises(APITimeoutError):
            await quick.me.get()
        assert len(server.journal.for_action("me.get")) == 1  # no retry
        await c.me.get()  # the original keeps its timeout
        assert quick._transport._session is c._transport._session
        assert quick.base_url == c.base_url
        assert quick._transport.retry == dataclasses.replace(FAST, max_retries=0)
        assert c._transport.retry == FAST
        unlimited = quick.with_options(timeout=None)
        await unlimited.me.get()


async def test_with_options_shares_the_concurrency_limit(server: FakeLosant) -> None:
    server.faults.add(Latency(0.03))
    app_id = server.ids.application_id
    async with client(server, max_concurrency=2) as c, anyio.create_task_group() as tg:
        copy = c.with_options(timeout=5)
        for one in (c, copy) * 3:
            tg.start_soon(functools.partial(one.application.get, application_id=app_id))
    assert len(server.journal) == 6
    assert server.stats.peak_in_flight == 2


async def test_with_options_rate_limit_and_budget_state(server: FakeLosant) -> None:
    async with client(server, rate_limit=10) as c:
        same = c.with_options(timeout=3)
        other = c.with_options(rate_limit=RateLimit(50))
        off = c.with_options(rate_limit=None)
        assert same._transport.bucket is c._transport.bucket
        assert other._transport.bucket is not None
        assert other._transport.bucket is not c._transport.bucket
        assert other._transport.bucket.limit == RateLimit(50)
        assert off._transport.bucket is None
        assert same._transport.budget is c._transport.budget
        fresh = c.with_options(retry=RetryPolicy(budget=RetryBudget(capacity=2)))
        assert fresh._transport.budget is not c._transport.budget
        assert c.with_options(max_retries=1)._transport.budget is c._transport.budget


async def test_closing_a_copy_leaves_the_pool_open(server: FakeLosant) -> None:
    async with client(server) as c:
        copy = c.with_options(timeout=5)
        await copy.me.get()
        session = c._transport._session
        await copy.aclose()
        with pytest.raises(ClientClosedError):
            await copy.me.get()
        await c.me.get()
        assert c._transport._session is session and session is not None
        assert not session.closed
        later = c.with_options(max_retries=0)
    assert session.closed
    with pytest.raises(ClientClosedError):
        await later.me.get()
    with pytest.raises(ClientClosedError):
        await c.with_options(timeout=1).me.get()  # a copy made after closing
