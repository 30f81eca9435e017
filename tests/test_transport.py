"""The session core against a real HTTP server on 127.0.0.1: encoding, errors, retries,
limits and secrecy of the token."""

from __future__ import annotations

import io
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from losant_async import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
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
    UnprocessableEntityError,
    models,
)
from losant_async._retry import RetryBudget
from tests.conftest import Scripted, drop, reply

pytestmark = pytest.mark.anyio

TOKEN = "tok-very-secret-123"
APP = "575ec8687ae143cd83dc4a97"
ORG = "575ed6e87ae143cd83dc4aa8"
FAST = RetryPolicy(backoff_base=0.001, backoff_max=0.01)


def client(server: Scripted, **kw: Any) -> LosantClient:
    kw.setdefault("retry", FAST)
    return LosantClient(TOKEN, base_url=server.url, **kw)


async def test_headers_query_defaults_and_typed_result(scripted: Scripted) -> None:
    scripted.script.append(reply(200, {"id": APP, "name": "plant", "unknownField": 1}))
    async with client(scripted) as c:
        app = await c.application.get(application_id=APP, summary_exclude="payloadCount")
    assert isinstance(app, models.Application)
    assert app.id == APP and app.name == "plant"
    seen = scripted.seen[0]
    assert seen.method == "GET" and seen.path == f"/applications/{APP}"
    assert seen.raw_path.split("?")[1] == (
        "_actions=false&_links=true&_embedded=true&summaryExclude=payloadCount"
    )
    assert seen.headers["Accept"] == "application/json"
    assert seen.headers["Accept-Version"] == "^1.30.0"
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["User-Agent"].startswith("losant_async/")
    assert "losantdomain" not in seen.headers


async def test_query_encoding_rules(scripted: Scripted) -> None:
    scripted.fallback = reply(200, {"items": []})
    async with client(scripted) as c:
        await c.devices.get(
            application_id=APP,
            query={"name": {"$ne": "x"}},
            per_page=5,
            _embedded=False,
            losantdomain="example.com",
        )
        await c.application_templates.get(keywords=["gps", "aws"])
    q = dict(scripted.seen[0].query)
    assert q["_embedded"] == "false" and q["perPage"] == "5"
    assert q["query"] == '{"name":{"$ne":"x"}}'
    assert "filter" not in q  # None is omitted
    assert scripted.seen[0].headers["losantdomain"] == "example.com"
    kw = [(k, v) for k, v in scripted.seen[1].query if k.startswith("keywords")]
    assert kw == [("keywords[0]", "gps"), ("keywords[1]", "aws")]


async def test_json_body_from_dict_and_struct(scripted: Scripted) -> None:
    scripted.fallback = reply(200, {"id": ORG, "name": "n"})
    async with client(scripted) as c:
        await c.instance_org.patch(
            instance_id=APP, org_id=ORG, organization={"name": "n", "description": None}
        )
        await c.instance_org.patch(
            instance_id=APP, org_id=ORG, organization=models.InstanceOrgPatch(name="n")
        )
    assert scripted.seen[0].body == b'{"name":"n","description":null}'
    assert scripted.seen[1].body == b'{"name":"n"}'
    assert scripted.seen[1].headers["Content-Type"] == "application/json"


async def test_multipart_upload_bytes_path_and_file(scripted: Scripted, tmp_path: Path) -> None:
    file_id = "5ef0e2b9b5d4c10006a8b1a1"
    scripted.fallback = reply(200, {"id": file_id})
    path = tmp_path / "firmware.bin"
    path.write_bytes(b"\x00\x01path")
    async with client(scripted) as c:
        for value in (b"raw-bytes", path, io.BytesIO(b"from-file")):
            await c.file.upload(application_id=APP, file_id=file_id, file=value)
        with pytest.raises(TypeError, match="'file'"):
            await c.file.upload(application_id=APP, file_id=file_id, file="not-a-path")  # type: ignore[arg-type]
    bodies = [s.body for s in scripted.seen]
    assert len(bodies) == 3
    assert b"raw-bytes" in bodies[0] and b"\x00\x01path" in bodies[1] and b"from-file" in bodies[2]
    assert b'filename="firmware.bin"' in bodies[1]
    assert scripted.seen[0].headers["Content-Type"].startswith("multipart/form-data")


async def test_bad_input_fails_before_the_network(scripted: Scripted) -> None:
    async with client(scripted) as c:
        with pytest.raises(ValueError, match="application_id"):
            await c.application.get(application_id="not-an-id")
        with pytest.raises(ValueError, match="application_id"):
            await c.application.get(application_id="../" + APP[3:])
        with pytest.raises(TypeError):
            await c.application.get()  # type: ignore[call-arg]
        with pytest.raises(TypeError):
            await c.application.get(application_id=APP, bogus=1)  # type: ignore[call-arg]
        with pytest.raises(TypeError, match="organization"):
            await c.instance_org.patch(instance_id=APP, org_id=ORG, organization={"x": object()})
    assert scripted.seen == []


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
    ],
)
async def test_api_errors_are_typed(
    scripted: Scripted, status: int, cls: type[LosantError]
) -> None:
    scripted.fallback = reply(status, {"type": "Kind", "message": "went wrong"})
    async with client(scripted, retry=0) as c:
        with pytest.raises(cls) as info:
            await c.application.get(application_id=APP)
    err = info.value
    assert isinstance(err, APIError)
    assert err.status == status
    assert err.type == "Kind" and err.message == "went wrong"
    assert b"went wrong" in err.body
    assert TOKEN not in str(err) and TOKEN not in repr(err)


async def test_html_error_page_keeps_raw_body(scripted: Scripted) -> None:
    html = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
    scripted.fallback = reply(502, html, **{"Content-Type": "text/html"})
    async with client(scripted, retry=0) as c:
        with pytest.raises(ServerError) as info:
            await c.application.get(application_id=APP)
    assert info.value.body == html and info.value.type is None


@pytest.mark.parametrize(
    "body", [b"<html>oops</html>", b'{"id": "575ec8687ae143cd83dc4a97", "na', b'{"name": 5}']
)
async def test_undecodable_success_keeps_raw_body(scripted: Scripted, body: bytes) -> None:
    scripted.fallback = reply(200, body, **{"Content-Type": "application/json"})
    async with client(scripted) as c:
        with pytest.raises(DecodeError) as info:
            await c.application.get(application_id=APP)
    assert info.value.body == body and info.value.status == 200


async def test_token_never_in_repr_or_logs(
    scripted: Scripted, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="losant_async")
    scripted.script += [reply(503, {}), reply(200, {"id": APP})]
    async with client(scripted) as c:
        assert TOKEN not in repr(c)
        await c.application.get(application_id=APP)
    assert caplog.records, "DEBUG logging is expected"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"/applications/{APP}" in text and "503" in text
    assert TOKEN not in text


# -- retries ---------------------------------------------------------------------------


async def test_503_and_429_are_retried_even_for_post(scripted: Scripted) -> None:
    scripted.script += [reply(503), reply(429, {}, **{"Retry-After": "0"}), reply(200, {})]
    async with client(scripted) as c:
        await c.application.mqtt_publish_message(
            application_id=APP, payload={"topic": "a/b", "message": "hi"}
        )
    assert len(scripted.seen) == 3


async def test_500_is_retried_for_get_but_not_post(scripted: Scripted) -> None:
    scripted.script += [reply(500), reply(200, {"id": APP})]
    async with client(scripted) as c:
        await c.application.get(application_id=APP)
        assert len(scripted.seen) == 2
        scripted.script += [reply(500), reply(200, {})]
        with pytest.raises(ServerError):
            await c.application.mqtt_publish_message(
                application_id=APP, payload={"topic": "a", "message": "m"}
            )
    assert len(scripted.seen) == 3


async def test_post_retry_opt_in(scripted: Scripted) -> None:
    scripted.script += [reply(502), reply(200, {})]
    policy = RetryPolicy(backoff_base=0.001, retry_post=True)
    async with client(scripted, retry=policy) as c:
        await c.application.mqtt_publish_message(
            application_id=APP, payload={"topic": "a", "message": "m"}
        )
    assert len(scripted.seen) == 2


async def test_dropped_connection_get_retried_post_not(scripted: Scripted) -> None:
    scripted.script += [drop(), reply(200, {"id": APP})]
    async with client(scripted) as c:
        await c.application.get(application_id=APP)
        assert len(scripted.seen) == 2
        scripted.script += [drop(), reply(200, {})]
        with pytest.raises(APIConnectionError) as info:
            await c.application.mqtt_publish_message(
                application_id=APP, payload={"topic": "a", "message": "m"}
            )
    assert info.value.sent is True
    assert len(scripted.seen) == 3


async def test_connect_refused_is_retried_for_post_then_raised() -> None:
    # A port nothing listens on: the request never left, so even a POST may be repeated.
    sock_server = await _closed_port()
    policy = RetryPolicy(max_retries=2, backoff_base=0.001)
    async with LosantClient(TOKEN, base_url=sock_server, retry=policy) as c:
        with pytest.raises(APIConnectionError) as info:
            await c.application.mqtt_publish_message(
                application_id=APP, payload={"topic": "a", "message": "m"}
            )
    assert info.value.sent is False
    assert TOKEN not in str(info.value)


async def test_retry_after_http_date_is_honoured(scripted: Scripted) -> None:
    from email.utils import formatdate

    scripted.script += [reply(503, {}, **{"Retry-After": formatdate(time.time() - 5, usegmt=True)})]
    scripted.script += [reply(200, {"id": APP})]
    async with client(scripted) as c:
        await c.application.get(application_id=APP)
    assert len(scripted.seen) == 2


async def test_retry_budget_stops_storms(scripted: Scripted) -> None:
    scripted.fallback = reply(503)
    policy = RetryPolicy(max_retries=5, backoff_base=0.001, budget=RetryBudget(capacity=3))
    async with client(scripted, retry=policy) as c:
        with pytest.raises(ServerError):
            await c.application.get(application_id=APP)
        assert len(scripted.seen) == 4  # 1 try + the 3 retries the budget allows
        with pytest.raises(ServerError):
            await c.application.get(application_id=APP)
        assert len(scripted.seen) == 5  # budget empty: no retry at all
        scripted.fallback = reply(200, {"id": APP})
        for _ in range(10):
            await c.application.get(application_id=APP)  # successes refill the bucket
        assert policy.budget is not None and policy.budget.tokens >= 1.0


# -- limits ----------------------------------------------------------------------------


async def test_max_concurrency_caps_in_flight(scripted: Scripted) -> None:
    import anyio

    async def slow(request: web.Request) -> web.StreamResponse:
        await anyio.sleep(0.02)
        return web.json_response({"id": APP})

    scripted.fallback = slow
    async with client(scripted, max_concurrency=3) as c, anyio.create_task_group() as tg:
        for _ in range(12):
            tg.start_soon(lambda: c.application.get(application_id=APP))
    assert len(scripted.seen) == 12
    assert scripted.peak == 3


async def test_rate_limit_spaces_requests_and_slows_on_429(scripted: Scripted) -> None:
    import anyio

    scripted.fallback = reply(200, {"id": APP})
    async with client(scripted, rate_limit=RateLimit(rate=40, burst=1)) as c:
        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for _ in range(9):
                tg.start_soon(lambda: c.application.get(application_id=APP))
        # Eight waits of at least 1/40 s each; a lower bound, so a slow machine passes too.
        assert time.monotonic() - started >= 8 / 40 * 0.9
        scripted.script.append(reply(429, {}, **{"Retry-After": "0"}))
        await c.application.get(application_id=APP)
        bucket = c._transport.bucket
        assert bucket is not None and bucket.rate < 40


async def test_cross_origin_redirect_drops_authorization(scripted: Scripted) -> None:
    other = web.Application()
    seen: list[dict[str, str]] = []

    async def target(request: web.Request) -> web.StreamResponse:
        seen.append(dict(request.headers))
        return web.json_response({"id": APP})

    other.router.add_get("/{tail:.*}", target)
    runner = web.AppRunner(other)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        scripted.script.append(
            reply(302, b"", Location=f"http://127.0.0.1:{port}/applications/{APP}")
        )
        async with client(scripted) as c:
            app = await c.application.get(application_id=APP)
        assert app.id == APP
        assert "Authorization" not in seen[0]
    finally:
        await runner.cleanup()


async def test_raw_request_escape_hatch(scripted: Scripted) -> None:
    scripted.fallback = reply(200, {"ok": True})
    async with client(scripted) as c:
        out = await c.request("POST", "/custom/path", params={"a": True, "b": None}, body={"x": 1})
    assert out == {"ok": True}
    seen = scripted.seen[0]
    assert seen.path == "/custom/path" and seen.query == [("a", "true")]
    assert seen.body == b'{"x":1}' and seen.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_callers_session_is_used_and_left_open(scripted: Scripted) -> None:
    scripted.fallback = reply(200, {"id": APP})
    async with aiohttp.ClientSession() as session:
        async with client(scripted, session=session) as c:
            await c.application.get(application_id=APP)
        assert not session.closed


async def _closed_port() -> str:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"
