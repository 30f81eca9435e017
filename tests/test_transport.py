"""The session core against the local Losant server on 127.0.0.1: encoding, bad input,
errors, retries, limits, timeouts and secrecy of the token.

Failures are the server's injected faults, and what arrived is read from its journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import gzip
import io
import logging
import threading
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping
from email.utils import formatdate
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest
from aiohttp import web

import losant_async
from losant_async import (
    NOT_GIVEN,
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConflictError,
    DecodeError,
    LosantClient,
    LosantError,
    NotFoundError,
    PermissionDeniedError,
    RateLimit,
    RateLimitError,
    RetryPolicy,
    ServerError,
    Timeout,
    UnprocessableEntityError,
    models,
)
from losant_async._limits import TokenBucket
from losant_async._retry import RetryBudget
from losant_async.testing import (
    FakeLosant,
    Fault,
    Html,
    Latency,
    ResetAfter,
    ResetBefore,
    Status,
    Truncate,
)
from tests.conftest import Scripted, reply

TOKEN = "tok-very-secret-123"
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.fake_losant(token=TOKEN, orgs=2, sandboxes=1, apps_per_org=1, devices_per_app=2),
]
FAST = RetryPolicy(backoff_base=0.001, backoff_max=0.01)
PUBLISH = "application.mqttPublishMessage"


def client(server: FakeLosant, **kw: Any) -> LosantClient:
    kw.setdefault("retry", FAST)
    return LosantClient(TOKEN, base_url=server.url, **kw)


def statuses(server: FakeLosant, action: str) -> list[int]:
    return [e.status for e in server.journal.for_action(action)]


async def publish(c: LosantClient, server: FakeLosant) -> None:
    await c.application.mqtt_publish_message(
        application_id=server.ids.application_id, payload={"topic": "a/b", "message": "hi"}
    )


# -- encoding --------------------------------------------------------------------------


async def test_headers_query_defaults_and_typed_result(server: FakeLosant) -> None:
    app_id = server.ids.application_id
    async with client(server) as c:
        app = await c.application.get(application_id=app_id, summary_exclude="payloadCount")
    assert isinstance(app, models.Application)
    assert app.id == app_id and app.name
    seen = server.journal.last("application.get")
    assert seen.status == 200
    assert seen.method == "GET" and seen.path == f"/applications/{app_id}"
    assert seen.raw_query == "_actions=false&_links=true&_embedded=true&summaryExclude=payloadCount"
    assert seen.headers["Accept"] == "application/json"
    assert seen.headers["Accept-Version"] == "^1.30.0"
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["User-Agent"].startswith("losant_async/")
    assert "losantdomain" not in seen.headers


async def test_unknown_fields_are_ignored_and_absent_ones_defaulted(server: FakeLosant) -> None:
    body = {"id": server.ids.application_id, "name": "plant", "fieldFromTheFuture": [1, 2]}
    server.faults.add(Status(200, body=body), action="application.get", times=1)
    async with client(server) as c:
        app = await c.application.get(application_id=server.ids.application_id)
    assert app.name == "plant" and app.description is None


async def test_query_encoding_rules(server: FakeLosant) -> None:
    async with client(server) as c:
        await c.devices.get(
            application_id=server.ids.application_id,
            query={"name": {"$ne": "x"}},
            per_page=5,
            _embedded=False,
            losantdomain="example.com",
        )
        await c.application_templates.get(keywords=["gps", "aws"])
    seen = server.journal.last("devices.get")
    assert seen.status == 200
    q = seen.query_dict()
    assert q["_embedded"] == "false" and q["perPage"] == "5"
    assert q["query"] == '{"name":{"$ne":"x"}}'
    assert "filter" not in q  # None is omitted
    assert seen.headers["losantdomain"] == "example.com"
    templates = server.journal.last("applicationTemplates.get")
    assert templates.status == 200
    assert [(k, v) for k, v in templates.query if k.startswith("keywords")] == [
        ("keywords[0]", "gps"),
        ("keywords[1]", "aws"),
    ]


async def test_json_body_from_dict_and_struct(server: FakeLosant) -> None:
    ids = server.ids
    async with client(server) as c:
        org = await c.instance_org.patch(
            instance_id=ids.instance_id, org_id=ids.org_id, organization={"name": "from dict"}
        )
        assert org.name == "from dict"
        org = await c.instance_org.patch(
            instance_id=ids.instance_id,
            org_id=ids.org_id,
            organization=models.InstanceOrgPatch(name="from struct"),
        )
        assert org.name == "from struct"
    first, second = server.journal.for_action("instanceOrg.patch")
    assert first.body == b'{"name":"from dict"}'
    assert second.body == b'{"name":"from struct"}'
    assert second.headers["Content-Type"] == "application/json"


async def test_multipart_upload_bytes_path_and_file(server: FakeLosant, tmp_path: Path) -> None:
    args = server.example_args("file.upload")
    path = tmp_path / "firmware.bin"
    path.write_bytes(b"\x00\x01path")
    async with client(server) as c:
        for value in (b"raw-bytes", path, io.BytesIO(b"from-file")):
            await c.file.upload(
                application_id=args["applicationId"], file_id=args["fileId"], file=value
            )
        with pytest.raises(TypeError, match="'file'"):
            await c.file.upload(
                application_id=args["applicationId"],
                file_id=args["fileId"],
                file="not-a-path",  # type: ignore[arg-type]
            )
    seen = server.journal.for_action("file.upload")
    assert [e.status for e in seen] == [200, 200, 200]
    assert b"raw-bytes" in seen[0].body and b"from-file" in seen[2].body
    assert b"\x00\x01path" in seen[1].body and b'filename="firmware.bin"' in seen[1].body
    assert seen[0].headers["Content-Type"].startswith("multipart/form-data")


# -- bad input -------------------------------------------------------------------------


async def test_bad_input_fails_before_the_network(server: FakeLosant) -> None:
    app_id = server.ids.application_id
    ids = server.ids
    async with client(server) as c:
        with pytest.raises(ValueError, match="application_id"):
            await c.application.get(application_id="not-an-id")
        with pytest.raises(ValueError, match="application_id"):
            await c.application.get(application_id="../" + app_id[3:])
        with pytest.raises(TypeError):
            await c.application.get()  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            await c.application.get(application_id=app_id, bogus=1)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="organization"):
            await c.instance_org.patch(
                instance_id=ids.instance_id, org_id=ids.org_id, organization={"x": object()}
            )
        with pytest.raises(TypeError, match="timeout"):
            await c.application.get(application_id=app_id, timeout="soon")  # type: ignore[arg-type]
    assert list(server.journal) == []


async def test_server_side_validation_is_a_typed_error(server: FakeLosant) -> None:
    # Valid for the client (a dict), invalid for the API: the server's 400 comes back typed.
    async with client(server) as c:
        with pytest.raises(BadRequestError) as info:
            await c.instance_org.patch(
                instance_id=server.ids.instance_id,
                org_id=server.ids.org_id,
                organization={"name": 5},
            )
    assert info.value.status == 400 and info.value.type == "Validation"
    assert info.value.message and "name" in info.value.message
    assert statuses(server, "instanceOrg.patch") == [400]


async def test_wrong_token_and_unknown_id(server: FakeLosant) -> None:
    async with LosantClient("wrong", base_url=server.url, retry=FAST) as c:
        with pytest.raises(AuthenticationError) as auth:
            await c.application.get(application_id=server.ids.application_id)
    assert auth.value.status == 401 and auth.value.type == "Unauthorized"
    async with client(server) as c:
        with pytest.raises(NotFoundError) as missing:
            await c.application.get(application_id="0" * 24)
    assert missing.value.type == "NotFound"
    assert statuses(server, "application.get") == [401, 404]  # neither is retried


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
    ],
)
async def test_api_errors_are_typed(
    server: FakeLosant, status: int, cls: type[LosantError]
) -> None:
    body = {"type": "Kind", "message": "went wrong"}
    server.faults.add(Status(status, body=body))
    async with client(server, retry=0) as c:
        with pytest.raises(cls) as info:
            await c.application.get(application_id=server.ids.application_id)
    err = info.value
    assert isinstance(err, APIError)
    assert err.status == status
    assert err.type == "Kind" and err.message == "went wrong"
    assert b"went wrong" in err.body
    assert TOKEN not in str(err) and TOKEN not in repr(err)


async def test_html_error_page_keeps_raw_body(server: FakeLosant) -> None:
    server.faults.add(Html(502))
    async with client(server, retry=0) as c:
        with pytest.raises(ServerError) as info:
            await c.application.get(application_id=server.ids.application_id)
    assert b"<h1>502 Bad Gateway</h1>" in info.value.body
    assert info.value.type is None and info.value.status == 502


@pytest.mark.parametrize(
    "body", [b"<html>oops</html>", b'{"id": "575ec8687ae143cd83dc4a97", "na', b'[{"name": 5}]']
)
async def test_undecodable_success_keeps_raw_body(server: FakeLosant, body: bytes) -> None:
    server.faults.add(Status(200, body=body))
    async with client(server) as c:
        with pytest.raises(DecodeError) as info:
            await c.application.get(application_id=server.ids.application_id)
    assert info.value.body == body and info.value.status == 200
    assert statuses(server, "application.get") == [200]  # a bad body is not retried


async def test_truncated_body_keeps_what_arrived(server: FakeLosant) -> None:
    server.faults.add(Truncate(), action="application.get")
    async with client(server, retry=0) as c:
        with pytest.raises(APIConnectionError) as info:
            await c.application.get(application_id=server.ids.application_id)
    err = info.value
    assert err.sent is True and "truncated" in str(err)
    whole = server.journal.last("application.get").response
    assert len(whole) > 20 and err.partial == whole[: len(whole) // 2]


async def test_token_never_in_repr_or_logs(
    server: FakeLosant, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="losant_async")
    server.faults.add(Status(503), times=1)
    app_id = server.ids.application_id
    async with client(server) as c:
        assert TOKEN not in repr(c)
        await c.application.get(application_id=app_id)
    assert caplog.records, "DEBUG logging is expected"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"GET /applications/{app_id} -> 503 (attempt 1," in text
    assert f"GET /applications/{app_id} -> 200 (attempt 2," in text
    assert TOKEN not in text


# -- retries ---------------------------------------------------------------------------


async def test_503_and_429_are_retried_even_for_post(server: FakeLosant) -> None:
    server.faults.add(Status(503), action=PUBLISH, times=1)
    server.faults.add(Status(429, retry_after="0"), action=PUBLISH, times=1)
    async with client(server) as c:
        await publish(c, server)
    assert statuses(server, PUBLISH) == [503, 429, 200]


async def test_500_502_504_retried_for_get_but_not_post(server: FakeLosant) -> None:
    async with client(server, retry=RetryPolicy(max_retries=3, backoff_base=0.001)) as c:
        for status in (500, 502, 504):
            server.faults.add(Status(status), action="application.get", times=1)
        await c.application.get(application_id=server.ids.application_id)
        assert statuses(server, "application.get") == [500, 502, 504, 200]
        for status in (500, 502, 504):
            server.faults.add(Status(status), action=PUBLISH, times=1)
            with pytest.raises(ServerError):
                await publish(c, server)
    assert statuses(server, PUBLISH) == [500, 502, 504]


async def test_408_is_retried_for_every_method(server: FakeLosant) -> None:
    server.faults.add(Status(408), action=PUBLISH, times=1)
    async with client(server) as c:
        await publish(c, server)
    assert statuses(server, PUBLISH) == [408, 200]


async def test_post_retry_opt_in(server: FakeLosant) -> None:
    server.faults.add(Html(502), action=PUBLISH, times=1)
    policy = RetryPolicy(backoff_base=0.001, retry_post=True)
    async with client(server, retry=policy) as c:
        await publish(c, server)
    assert statuses(server, PUBLISH) == [502, 200]


@pytest.mark.parametrize("kind", [ResetBefore(), ResetAfter(), Truncate()])
async def test_dropped_connection_get_retried_post_not(server: FakeLosant, kind: Fault) -> None:
    server.faults.add(kind, action="application.get", times=1)
    server.faults.add(kind, action=PUBLISH, times=1)
    async with client(server) as c:
        app = await c.application.get(application_id=server.ids.application_id)
        assert app.id == server.ids.application_id
        assert len(server.journal.for_action("application.get")) == 2
        with pytest.raises(APIConnectionError) as info:
            await publish(c, server)
    assert info.value.sent is True
    assert len(server.journal.for_action(PUBLISH)) == 1  # the server may have acted: no repeat


async def test_connect_refused_is_retried_for_post_then_raised() -> None:
    # A port nothing listens on: the request never left, so even a POST may be repeated.
    url = _closed_port()
    policy = RetryPolicy(max_retries=2, backoff_base=0.001)
    async with LosantClient(TOKEN, base_url=url, retry=policy) as c:
        with pytest.raises(APIConnectionError) as info:
            await c.application.mqtt_publish_message(
                application_id="575ec8687ae143cd83dc4a97", payload={"topic": "a", "message": "m"}
            )
    assert info.value.sent is False and type(info.value) is APIConnectionError
    assert TOKEN not in str(info.value)


async def test_retry_after_is_honoured_in_seconds(server: FakeLosant) -> None:
    server.faults.add(Status(503, retry_after="1"), action="application.get", times=1)
    async with client(server) as c:
        await c.application.get(application_id=server.ids.application_id)
    first, second = server.journal.for_action("application.get")
    assert second.time - first.time >= 0.9  # far above FAST's 10 ms backoff cap


async def test_retry_after_http_date_is_honoured(server: FakeLosant) -> None:
    past = formatdate(time.time() - 5, usegmt=True)  # already due: no wait, one retry
    server.faults.add(Status(503, retry_after=past), action="application.get", times=1)
    async with client(server) as c:
        await c.application.get(application_id=server.ids.application_id)
    assert statuses(server, "application.get") == [503, 200]


async def test_retry_after_is_capped(server: FakeLosant) -> None:
    server.faults.add(Status(503, retry_after="3600"), action="application.get", times=1)
    policy = RetryPolicy(backoff_base=0.001, retry_after_max=0.05)
    async with client(server, retry=policy) as c:
        with anyio.fail_after(5):
            await c.application.get(application_id=server.ids.application_id)
    assert statuses(server, "application.get") == [503, 200]


async def test_retry_budget_stops_storms(server: FakeLosant) -> None:
    storm = server.faults.add(Status(503), action="application.get")
    policy = RetryPolicy(max_retries=5, backoff_base=0.001, budget=RetryBudget(capacity=3))
    app_id = server.ids.application_id
    async with client(server, retry=policy) as c:
        with pytest.raises(ServerError):
            await c.application.get(application_id=app_id)
        assert storm.hits == 4  # 1 try + the 3 retries the budget allows
        with pytest.raises(ServerError):
            await c.application.get(application_id=app_id)
        assert storm.hits == 5  # budget empty: no retry at all
        server.faults.clear()
        for _ in range(10):
            await c.application.get(application_id=app_id)  # successes refill the bucket
        budget = c._transport.budget
        assert budget is not None and budget.tokens >= 1.0


# -- limits and timeouts ---------------------------------------------------------------


async def test_max_concurrency_caps_in_flight(server: FakeLosant) -> None:
    server.faults.add(Latency(0.03))
    async with client(server, max_concurrency=3) as c, anyio.create_task_group() as tg:
        for app_id in server.ids.application_ids * 6:
            tg.start_soon(functools.partial(c.application.get, application_id=app_id))
    assert len(server.journal) == len(server.ids.application_ids) * 6 >= 12
    assert server.stats.peak_in_flight == 3


async def test_rate_limit_spaces_requests_and_slows_on_429(server: FakeLosant) -> None:
    app_id = server.ids.application_id
    async with client(server, rate_limit=RateLimit(rate=40, burst=1)) as c:
        async with anyio.create_task_group() as tg:
            for _ in range(9):
                tg.start_soon(lambda: c.application.get(application_id=app_id))
        times = [e.time for e in server.journal]
        # Eight gaps of at least 1/40 s each; a lower bound, so a slow machine passes too.
        assert times[-1] - times[0] >= 8 / 40 * 0.9
        server.faults.add(Status(429, retry_after="0"), times=1)
        await c.application.get(application_id=app_id)
        bucket = c._transport.bucket
        assert bucket is not None and bucket.rate < 40


async def test_total_timeout_and_per_call_override(server: FakeLosant) -> None:
    server.faults.add(Latency(0.5), action="application.get")
    app_id = server.ids.application_id
    async with client(server, timeout=0.1, retry=0) as c:
        with pytest.raises(APITimeoutError) as info:
            await c.application.get(application_id=app_id)
        assert info.value.sent is True
        app = await c.application.get(application_id=app_id, timeout=Timeout(total=5))
        assert app.id == app_id
        with pytest.raises(APITimeoutError):
            await c.application.get(application_id=app_id, timeout=0.05)


async def test_timed_out_get_is_retried(server: FakeLosant) -> None:
    server.faults.add(Latency(1.0), action="application.get", times=1)
    async with client(server, timeout=0.2) as c:
        await c.application.get(application_id=server.ids.application_id)
    assert len(server.journal.for_action("application.get")) == 2


def test_timeout_settings_reach_aiohttp() -> None:
    c = LosantClient(TOKEN, timeout=Timeout(total=7, connect=2))
    t = c._transport
    assert (t.client_timeout(NOT_GIVEN).total, t.client_timeout(NOT_GIVEN).connect) == (7, 2)
    assert (t.client_timeout(None).total, t.client_timeout(None).connect) == (None, None)
    assert (t.client_timeout(3).total, t.client_timeout(3).connect) == (3, 2)
    override = t.client_timeout(Timeout(total=None, connect=1))
    assert (override.total, override.connect) == (None, 1)


# -- session ---------------------------------------------------------------------------


async def test_cross_origin_redirect_drops_authorization(
    server: FakeLosant, scripted: Scripted
) -> None:
    async def redirect(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(server.url + request.path_qs)

    scripted.fallback = redirect
    # "localhost" and "127.0.0.1" are different origins for the same server.
    port = scripted.url.rsplit(":", 1)[1]
    async with LosantClient(TOKEN, base_url=f"http://localhost:{port}", retry=0) as c:
        with pytest.raises(AuthenticationError):
            await c.application.get(application_id=server.ids.application_id)
    assert scripted.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    arrived = server.journal.last("application.get")
    assert "Authorization" not in arrived.headers and arrived.status == 401


async def test_raw_request_escape_hatch(server: FakeLosant) -> None:
    async with client(server) as c:
        out = await c.request("GET", "/me", params={"includeRecent": True, "summaryExclude": None})
        await c.request(
            "POST",
            f"/applications/{server.ids.application_id}/mqttPublishMessage",
            body={"topic": "a/b", "message": "m"},
        )
        with pytest.raises(NotFoundError):
            await c.request("GET", "/no/such/route")
    assert isinstance(out, dict) and "email" in out
    me, pub, _ = server.journal
    assert me.action == "me.get" and me.query == [("includeRecent", "true")]
    assert me.headers["Authorization"] == f"Bearer {TOKEN}"
    assert pub.body == b'{"topic":"a/b","message":"m"}' and pub.status == 200


async def test_callers_session_is_used_and_left_open(server: FakeLosant) -> None:
    async with aiohttp.ClientSession() as session:
        async with client(server, session=session) as c:
            await c.application.get(application_id=server.ids.application_id)
        assert not session.closed
        async with session.get(server.url + "/me") as resp:
            assert resp.status == 401  # the caller's session carries no token


async def test_one_pooled_connection_serves_sequential_calls(server: FakeLosant) -> None:
    created: list[object] = []
    reused: list[object] = []

    async def on_create(session: Any, ctx: Any, params: Any) -> None:
        created.append(params)

    async def on_reuse(session: Any, ctx: Any, params: Any) -> None:
        reused.append(params)

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(on_create)
    trace.on_connection_reuseconn.append(on_reuse)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        async with client(server, session=session) as c:
            for app_id in server.ids.application_ids * 3:
                await c.application.get(application_id=app_id)
    calls = len(server.ids.application_ids) * 3
    assert (len(created), len(reused)) == (1, calls - 1)


async def test_the_clients_own_session_is_created_once(server: FakeLosant) -> None:
    async with client(server) as c:
        await c.application.get(application_id=server.ids.application_id)
        session = c._transport._session
        await c.application.get(application_id=server.ids.application_id)
        assert session is not None and c._transport._session is session
    assert session.closed


async def test_closed_client_refuses_calls(server: FakeLosant) -> None:
    c = client(server)
    await c.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await c.application.get(application_id=server.ids.application_id)


def _closed_port() -> str:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


# -- hardening -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", ".", ".."])
async def test_dot_segments_in_path_values_are_refused(server: FakeLosant, value: str) -> None:
    # Unchecked, ".." would turn a version's delete into a delete of the whole experience.
    async with client(server) as c:
        with pytest.raises(ValueError, match="experience_version_id_or_name"):
            await c.experience_version.delete(
                application_id=server.ids.application_id, experience_version_id_or_name=value
            )
    assert list(server.journal) == []


async def test_structured_filters_are_flattened_like_the_official_clients(
    server: FakeLosant,
) -> None:
    app_id = server.ids.application_id
    async with client(server) as c:
        everything = await c.devices.get(application_id=app_id)
        first = next(d for d in everything.items or [] if d.tags)
        assert first.tags and first.device_class
        key, value = first.tags[0].key, first.tags[0].value
        found = await c.devices.get(
            application_id=app_id,
            tag_filter=[{"key": key, "value": value}],
            device_class=[first.device_class, "embedded"],
        )
    sent = server.journal.last("devices.get")
    assert sent.status == 200
    assert [(k, v) for k, v in sent.query if k.startswith(("tagFilter", "deviceClass"))] == [
        ("deviceClass[0]", first.device_class),
        ("deviceClass[1]", "embedded"),
        ("tagFilter[0][key]", key),
        ("tagFilter[0][value]", value),
    ]
    assert found.items and len(found.items) < len(everything.items or [])
    assert all((key, value) in {(t.key, t.value) for t in d.tags or []} for d in found.items)


@pytest.mark.parametrize("header", ["\u00b2", "9" * 400, "soon"])
async def test_a_malformed_retry_after_falls_back_to_backoff(
    server: FakeLosant, header: str
) -> None:
    server.faults.add(Status(503, retry_after=header), action="me.get", times=1)
    async with client(server) as c:
        with anyio.fail_after(5):
            await c.me.get()
    assert statuses(server, "me.get") == [503, 200]


async def test_a_long_retry_after_on_429_does_not_stall_the_rate_limiter(
    server: FakeLosant,
) -> None:
    server.faults.add(Status(429, retry_after="3600"), action="me.get", times=1)
    policy = RetryPolicy(max_retries=0, retry_after_max=0.2)
    async with client(server, retry=policy, rate_limit=RateLimit(rate=100, burst=10)) as c:
        with pytest.raises(RateLimitError):
            await c.me.get()
        with anyio.fail_after(5):  # uncapped, every call would wait an hour
            await c.application.get(application_id=server.ids.application_id)
        bucket = c._transport.bucket
        assert bucket is not None and bucket._tokens <= 1.0  # no full burst after the pause


async def test_token_is_stripped_and_control_characters_refused(server: FakeLosant) -> None:
    async with LosantClient(TOKEN + "\n", base_url=server.url) as c:
        await c.me.get()
    assert server.journal.last("me.get").headers["Authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(ValueError, match="control characters") as info:
        LosantClient("abc\r\nX-Injected: 1", base_url=server.url)
    assert "abc" not in str(info.value)


async def test_timeout_none_means_no_limit(server: FakeLosant) -> None:
    server.faults.add(Latency(0.2), action="me.get")
    async with LosantClient(TOKEN, base_url=server.url, timeout=None) as c:
        await c.me.get()
        t = c._transport.client_timeout(None)
        assert (t.total, t.connect) == (None, None)
    with pytest.raises(TypeError, match="timeout"):
        LosantClient(TOKEN, timeout="1")  # type: ignore[arg-type]


async def test_no_token_anywhere_in_an_errors_chain() -> None:
    # A response with a malformed header line: aiohttp's error for it carries the
    # request's headers, and so the token, in its repr.
    async def bad(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nBad Header\r\n\r\n{}")
        await writer.drain()
        writer.close()

    raw = await asyncio.start_server(bad, "127.0.0.1", 0)
    port = raw.sockets[0].getsockname()[1]
    try:
        async with LosantClient(TOKEN, base_url=f"http://127.0.0.1:{port}", retry=0) as c:
            with pytest.raises(APIConnectionError) as info:
                await c.me.get()
            stream = c.stream("/stream")
            stream.max_reconnects = 0
            with pytest.raises(LosantError) as streamed:
                await stream.__aenter__()
    finally:
        raw.close()
    for err in (info.value, streamed.value):
        chain: list[BaseException] = []
        e: BaseException | None = err
        while e is not None:
            chain.append(e)
            e = e.__cause__ or e.__context__
        assert all(TOKEN not in f"{x!s}{x!r}" for x in chain), chain


@contextlib.contextmanager
def server_in_a_thread() -> Iterator[FakeLosant]:
    """The local server on its own loop in a thread, for tests that run loops themselves."""
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def serve() -> None:
        async def main() -> None:
            async with FakeLosant(TOKEN, orgs=1, sandboxes=0) as s:
                holder["server"], holder["stop"] = s, asyncio.Event()
                holder["loop"] = asyncio.get_running_loop()
                ready.set()
                await holder["stop"].wait()

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield holder["server"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(10)


def test_one_client_serves_successive_event_loops() -> None:
    with server_in_a_thread() as server:
        c = LosantClient(TOKEN, base_url=server.url, rate_limit=50, max_concurrency=2)
        try:
            for _ in range(2):  # e.g. a script calling asyncio.run twice, or a loop per test
                me = asyncio.run(c.me.get())
                assert me.id
        finally:
            asyncio.run(c.aclose())


def test_a_call_from_another_running_loop_does_not_use_the_first_loops_session() -> None:
    """A loop still running in another thread is not this thread's loop: a call made
    here opens a session of this loop's own (a caller's session refuses)."""
    with server_in_a_thread() as server:
        c = LosantClient(TOKEN, base_url=server.url)
        started, stop = threading.Event(), threading.Event()
        holder: dict[str, Any] = {}

        def other() -> None:
            async def main() -> None:
                await c.me.get()
                holder["session"] = c._transport._session
                async with (
                    aiohttp.ClientSession() as theirs,
                    LosantClient(TOKEN, base_url=server.url, session=theirs) as given,
                ):
                    await given.me.get()
                    holder["given"] = given
                    started.set()
                    await asyncio.to_thread(stop.wait)  # this loop runs on meanwhile

            asyncio.run(main())

        thread = threading.Thread(target=other, daemon=True)
        thread.start()
        try:
            assert started.wait(10)

            async def here() -> aiohttp.ClientSession | None:
                await c.me.get()
                with pytest.raises(RuntimeError, match="another event loop"):
                    await holder["given"].me.get()
                return c._transport._session

            session = asyncio.run(here())
            assert session is not None and session is not holder["session"]
        finally:
            stop.set()
            thread.join(10)
        asyncio.run(c.aclose())


# -- hostile conditions ----------------------------------------------------------------


class VirtualClock:
    """A rate limiter's clock that moves only when the limiter sleeps: where requests fall
    on it depends on the limiter alone, never on how fast the machine is."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


def virtual_bucket(c: LosantClient, limit: RateLimit) -> VirtualClock:
    clock = VirtualClock()
    c._transport.bucket = TokenBucket(limit, clock=clock, sleep=clock.sleep)
    return clock


@pytest.mark.parametrize("own_session", [True, False])
async def test_a_lost_connection_is_sent_as_often_as_the_policy_says(
    server: FakeLosant, own_session: bool
) -> None:
    # aiohttp re-sends an idempotent request once when the connection drops, beneath the
    # retry policy: retry=0 meant two sends, the default policy six.
    app_id = server.ids.application_id
    device_id = server.ids.devices_of(app_id)[0]
    server.faults.add(ResetBefore(), action="application.get")
    server.faults.add(ResetBefore(), action="device.delete")
    async with aiohttp.ClientSession() as session:
        kw: dict[str, Any] = {} if own_session else {"session": session}
        async with client(server, retry=0, **kw) as c:
            with pytest.raises(APIConnectionError):
                await c.application.get(application_id=app_id)
            with pytest.raises(APIConnectionError):
                await c.device.delete(application_id=app_id, device_id=device_id)
        assert len(server.journal.for_action("application.get")) == 1
        assert len(server.journal.for_action("device.delete")) == 1
        async with client(server, retry=RetryPolicy(max_retries=2, backoff_base=0.001), **kw) as c:
            with pytest.raises(APIConnectionError):
                await c.application.get(application_id=app_id)
        assert len(server.journal.for_action("application.get")) == 1 + 3


async def test_rate_limit_holds_when_a_slow_call_frees_the_slot(scripted: Scripted) -> None:
    # 20 callers queued behind one slow call: each must take its token only once it holds
    # the slot, or they all go at once when the slot frees.
    limit = RateLimit(rate=20, burst=1)
    arrivals: list[float] = []
    async with LosantClient(TOKEN, base_url=scripted.url, rate_limit=limit, max_concurrency=1) as c:
        clock = virtual_bucket(c, limit)

        async def stamp(request: web.Request) -> web.StreamResponse:
            arrivals.append(clock.now)
            if len(arrivals) == 1:
                await asyncio.sleep(0.05)  # the slow call
            return web.json_response({})

        scripted.fallback = stamp
        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(c.request, "GET", "/x")
    assert len(arrivals) == 20
    # No span of time holds more requests than the bucket allows: burst + rate * span.
    for i in range(len(arrivals)):
        for j in range(i + 1, len(arrivals)):
            span = arrivals[j] - arrivals[i]
            assert j - i + 1 <= limit.burst + limit.rate * span + 1e-6, (i, j, arrivals)


async def test_a_429_holds_callers_queued_for_a_slot(scripted: Scripted) -> None:
    limit = RateLimit(rate=100, burst=10)
    arrivals: list[float] = []
    async with LosantClient(
        TOKEN, base_url=scripted.url, rate_limit=limit, max_concurrency=1, retry=0
    ) as c:
        clock = virtual_bucket(c, limit)

        async def answer(request: web.Request) -> web.StreamResponse:
            arrivals.append(clock.now)
            if len(arrivals) == 1:
                return web.json_response({}, status=429, headers={"Retry-After": "2"})
            return web.json_response({})

        scripted.fallback = answer
        outcomes: list[object] = []

        async def call() -> None:
            try:
                outcomes.append(await c.request("GET", "/x"))
            except RateLimitError as exc:
                outcomes.append(exc)

        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(call)
    assert len(arrivals) == 10 and sum(isinstance(o, RateLimitError) for o in outcomes) == 1
    # Every request after the 429 waited out its Retry-After.
    assert all(t >= arrivals[0] + 2 for t in arrivals[1:]), arrivals


async def test_a_total_timeout_while_connecting_is_not_sent(
    server: FakeLosant, scripted: Scripted, caplog: pytest.LogCaptureFixture
) -> None:
    # One pooled connection, held by a request another server does not answer: the POST
    # waits to connect until its total timeout fires. It never left, so it may be retried.
    arrived, release = asyncio.Event(), asyncio.Event()

    async def hang(request: web.Request) -> web.StreamResponse:
        arrived.set()
        await release.wait()
        return web.json_response({})

    scripted.fallback = hang
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        hold = asyncio.ensure_future(session.get(scripted.url + "/hold"))
        try:
            await arrived.wait()
            async with client(server, session=session, timeout=0.1, retry=0) as c:
                with pytest.raises(APITimeoutError) as info:
                    await publish(c, server)
            assert info.value.sent is False
            assert server.journal.for_action(PUBLISH) == []

            # With retries, the POST is sent once the connection is free again.
            class FreeTheConnection(logging.Handler):
                def emit(self, record: logging.LogRecord) -> None:
                    if "APITimeoutError" in record.getMessage():
                        hold.cancel()

            handler = FreeTheConnection()
            caplog.set_level(logging.DEBUG, logger="losant_async")
            logging.getLogger("losant_async").addHandler(handler)
            try:
                async with client(server, session=session, timeout=0.1) as c:
                    await publish(c, server)
            finally:
                logging.getLogger("losant_async").removeHandler(handler)
        finally:
            release.set()
            hold.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await hold
    assert hold.cancelled()
    assert statuses(server, PUBLISH) == [200]


def test_a_client_that_outlives_its_loop_leaves_nothing_open() -> None:
    sessions: list[aiohttp.ClientSession] = []
    with server_in_a_thread() as server:
        c = LosantClient(TOKEN, base_url=server.url)

        async def call() -> None:
            await c.me.get()
            assert c._transport._session is not None
            sessions.append(c._transport._session)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            asyncio.run(call())
            asyncio.run(call())  # never closed: the loop's shutdown closes it
            gc.collect()
    first, second = sessions
    assert first is not second
    assert first.closed and second.closed
    assert first.connector is None and second.connector is None  # connector closed too
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        ("application_id", "a" * 24 + "\n"),  # Python's $ matches before a final newline
        ("application_id", "\u0660" * 24),  # Python's \d matches ARABIC-INDIC DIGIT ZERO
        ("application_id", "\uff11" * 24),  # FULLWIDTH DIGIT ONE
        ("name", "temp\n"),
    ],
)
async def test_patterns_mean_what_they_mean_in_javascript(
    server: FakeLosant, attr: str, value: str
) -> None:
    app_id = server.ids.application_id
    device_id = server.ids.devices_of(app_id)[0]
    async with client(server) as c:
        with pytest.raises(ValueError, match=attr):
            if attr == "name":
                await c.device_attribute.get(application_id=app_id, device_id=device_id, name=value)
            else:
                await c.application.get(application_id=value)
        with pytest.raises(ValueError, match="org_id"):
            await c.applications.get(org_id=value)
        # The same patterns still take what JavaScript takes.
        await c.application.get(application_id=app_id)
        await c.applications.get(org_id="")
    assert [e.action for e in server.journal] == ["application.get", "applications.get"]


async def test_aclose_fails_calls_at_once_with_a_losant_error(scripted: Scripted) -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def hang(request: web.Request) -> web.StreamResponse:
        arrived.set()
        await release.wait()
        return web.json_response({})

    slow = RetryPolicy(backoff_base=60, backoff_max=60)
    results: dict[str, BaseException] = {}

    async def run(name: str, coro: Any) -> None:
        try:
            await coro
        except BaseException as exc:
            results[name] = exc

    try:
        # A call in flight, two waiting for a retry (Retry-After: 60), one held by the
        # rate limiter's pause after the 429: each must end at once with a LosantError.
        scripted.script = [
            hang,
            reply(503, {}, **{"Retry-After": "60"}),
            reply(429, {}, **{"Retry-After": "60"}),
        ]
        c = LosantClient(
            TOKEN, base_url=scripted.url, retry=slow, rate_limit=RateLimit(100, burst=100)
        )
        with anyio.fail_after(10):  # a hang guard: each wait would be 60 s
            async with anyio.create_task_group() as tg:
                tg.start_soon(run, "in flight", c.request("GET", "/hang"))
                await arrived.wait()
                tg.start_soon(run, "retry wait", c.request("GET", "/retry"))
                tg.start_soon(run, "429", c.request("GET", "/429"))
                await anyio.wait_all_tasks_blocked()
                tg.start_soon(run, "paused", c.request("GET", "/paused"))
                await anyio.wait_all_tasks_blocked()
                await c.aclose()
        with pytest.raises(ClientClosedError):
            await c.request("GET", "/after")
    finally:
        release.set()
    assert [s.path for s in scripted.seen] == ["/hang", "/retry", "/429"]
    assert len(results) == 4
    for name, exc in results.items():
        assert isinstance(exc, ClientClosedError), (name, exc)
    assert results["in flight"].sent is True  # type: ignore[attr-defined]
    assert results["paused"].sent is False  # type: ignore[attr-defined]


async def test_a_timeout_of_zero_or_less_is_refused(server: FakeLosant) -> None:
    # aiohttp reads 0 as "no limit": a typo would turn a bound into none.
    for bad in (0, 0.0, -1, float("nan")):
        with pytest.raises(ValueError, match="timeout"):
            LosantClient(TOKEN, base_url=server.url, timeout=bad)
        with pytest.raises(ValueError, match="timeout"):
            Timeout(total=bad)
        with pytest.raises(ValueError, match="timeout"):
            Timeout(connect=bad)
    async with client(server) as c:
        for bad in (0, -0.5):
            with pytest.raises(ValueError, match="timeout"):
                await c.me.get(timeout=bad)
            with pytest.raises(ValueError, match="timeout"):
                await c.request("GET", "/me", timeout=Timeout(total=5, connect=bad))
    assert list(server.journal) == []


async def test_a_query_in_the_path_is_merged_with_params(server: FakeLosant) -> None:
    async with client(server) as c:
        await c.request("GET", "/applications?sortField=name", params={"page": 0})
        await c.request("GET", "/applications?sortField=name&sortDirection=desc")
        with pytest.raises(ValueError, match="fragment"):
            await c.request("GET", "/applications#top")
    first, second = server.journal.for_action("applications.get")
    assert first.query == [("sortField", "name"), ("page", "0")] and first.status == 200
    assert second.query == [("sortField", "name"), ("sortDirection", "desc")]


async def test_callers_session_settings_do_not_change_our_error_handling(
    server: FakeLosant, scripted: Scripted
) -> None:
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        async with client(server, session=session) as c:
            with pytest.raises(NotFoundError) as info:
                await c.application.get(application_id="0" * 24)
    assert info.value.type == "NotFound" and info.value.body
    assert statuses(server, "application.get") == [404]  # a 404 is not retried

    async def gzipped(request: web.Request) -> web.StreamResponse:
        body = gzip.compress(b'{"a": 1}')
        return web.Response(body=body, headers={"Content-Encoding": "gzip"})

    scripted.fallback = gzipped
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with LosantClient(TOKEN, base_url=scripted.url, session=session) as c:
            assert await c.request("GET", "/gzip") == {"a": 1}

    async def tag(req: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType) -> Any:
        req.headers["X-Traced"] = "yes"
        return await handler(req)

    # Its default timeout and base_url do not apply to our requests either.
    tiny = aiohttp.ClientTimeout(total=0.001)
    async with aiohttp.ClientSession(timeout=tiny, base_url=_closed_port()) as session:
        server.faults.add(Latency(delay=0.05), action="me.get", times=1)
        async with client(server, session=session, retry=0) as c:
            await c.me.get()

    async with aiohttp.ClientSession(middlewares=(tag,)) as session:
        async with client(server, session=session) as c:
            await c.me.get()
    assert server.journal.last("me.get").headers["X-Traced"] == "yes"  # theirs still run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # aiohttp 3.14 deprecates auth=
        session = aiohttp.ClientSession(auth=aiohttp.BasicAuth("user", "pass"))
    async with session:
        with pytest.raises(ValueError, match="auth"):
            LosantClient(TOKEN, base_url=server.url, session=session)


@pytest.mark.parametrize(
    "url",
    [
        "http://",
        "https://",
        "http://:8080",
        "http:///applications",
        "http://host?x=1",
        "http://host/#top",
        "http://user:secret@host",
        "http://host:99999",
        "ftp://host",
        "http:/host",
    ],
)
async def test_a_base_url_without_host_or_with_a_query_is_refused(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValueError, match="base_url"):
        LosantClient(TOKEN, base_url=url)
    monkeypatch.setenv("LOSANT_API_URL", url)
    with pytest.raises(ValueError, match="base_url"):
        LosantClient(TOKEN)


async def test_a_base_url_with_a_path_prefix_is_kept(
    server: FakeLosant, scripted: Scripted
) -> None:
    scripted.fallback = reply(200, {"ok": True})
    async with LosantClient(TOKEN, base_url=scripted.url + "/api/") as c:
        assert await c.request("GET", "/me") == {"ok": True}
    assert [s.path for s in scripted.seen] == ["/api/me"]


# -- the token in traceback frames -----------------------------------------------------

PACKAGE = str(Path(losant_async.__file__).parent)


def _holds_token(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return TOKEN in value
    if isinstance(value, bytes | bytearray):
        return TOKEN.encode() in value
    if depth > 8:
        return False
    if isinstance(value, Mapping):
        return any(
            _holds_token(k, depth + 1) or _holds_token(v, depth + 1) for k, v in value.items()
        )
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_token(v, depth + 1) for v in value)
    return False


def assert_token_not_in_frames(exc: BaseException) -> None:
    """No frame of losant_async that ``exc`` (or anything chained to it) passed through
    holds the token among its locals, and capture_locals does not print it."""
    e: BaseException | None = exc
    frames = 0
    while e is not None:
        for frame, _ in traceback.walk_tb(e.__traceback__):
            if not frame.f_code.co_filename.startswith(PACKAGE):
                continue
            frames += 1
            for name, value in frame.f_locals.items():
                where = f"{frame.f_code.co_name}: {name}"
                assert TOKEN not in repr(value), where
                assert not _holds_token(value), where
        e = e.__cause__ or e.__context__
    assert frames, "the error passed through none of our frames"
    text = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    assert TOKEN not in text


async def test_the_token_is_in_no_frame_an_error_passes_through(server: FakeLosant) -> None:
    app_id = server.ids.application_id
    errors: list[BaseException] = []

    async def fails(coro: Any) -> None:
        try:
            await coro
        except Exception as exc:
            errors.append(exc)
        else:
            raise AssertionError("expected a failure")

    faults = server.faults
    async with aiohttp.ClientSession() as session:
        for kw in ({}, {"session": session}):
            async with client(server, **kw) as c:
                get = functools.partial(c.application.get, application_id=app_id)
                await fails(c.application.get(application_id="0" * 24))  # 404
                faults.add(Status(status=500), action="application.get")
                await fails(get())  # 500, retried, raised
                faults.clear()
                faults.add(Status(status=200, body=b"<html>"), action="application.get")
                await fails(get())  # decode error
                await fails(c.request("GET", "/nowhere", params={"x": 1}, headers={"X": "1"}))
                faults.clear()
                for kind in (ResetBefore(), ResetAfter(), Truncate()):
                    faults.add(kind, action="application.get")
                    faults.add(kind, action=PUBLISH)
                    await fails(get())
                    await fails(publish(c, server))
                    faults.clear()
                faults.add(Latency(delay=1), action="application.get")
                await fails(get(timeout=0.05))
                faults.clear()
                await fails(c.application.get(application_id="nope"))  # bad input
                await fails(get(timeout=0))
                await fails(c.request("GET", "no-slash"))
            await fails(get())  # closed
    async with LosantClient(TOKEN, base_url=_closed_port(), retry=0) as c:
        await fails(c.me.get())  # cannot connect

    def construct(**kw: Any) -> None:
        try:
            LosantClient(TOKEN, **kw)
        except Exception as exc:
            errors.append(exc)
        else:
            raise AssertionError("expected a failure")

    construct(base_url="http://")
    construct(timeout=0)
    construct(max_concurrency=0)
    construct(rate_limit=-1)
    try:
        LosantClient(TOKEN + "\x00")
    except ValueError as exc:
        errors.append(exc)
    assert len(errors) == 36
    for err in errors:
        assert_token_not_in_frames(err)
