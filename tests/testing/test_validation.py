"""Routing, authentication and request validation answer like the real API."""

from __future__ import annotations

import logging
import urllib.parse
from typing import Any

import aiohttp
import pytest
import yarl

from losant_async.testing import FakeLosant, encode_request
from losant_async.testing._spec import load_api

from .fakehttp import Reply, call, get, send

pytestmark = pytest.mark.anyio

HEX = "0123456789abcdef01234567"


def refused(result: Reply) -> str:
    """The message of a 400 ``Validation`` answer (asserted to be one)."""
    assert result.status == 400, result.body
    assert result.body["type"] == "Validation"
    message: str = result.body["message"]
    return message


def test_literal_segments_win_over_params() -> None:
    routes = load_api().routes
    app = ["applications", HEX, "devices"]
    export = routes.match("POST", [*app, "export"])
    assert export is not None and export.qualname == "devices.export"
    get_device = routes.match("GET", [*app, HEX])
    assert get_device is not None and get_device.qualname == "device.get"
    # No GET at the literal route: the param route takes it (and validation rejects it).
    fallback = routes.match("GET", [*app, "export"])
    assert fallback is not None and fallback.qualname == "device.get"
    assert routes.match("GET", ["nothing", "here"]) is None
    assert routes.match("PUT", ["applications", HEX]) is None


async def test_unknown_route_and_method_are_404(http: aiohttp.ClientSession) -> None:
    for method, path in [("GET", "/nope"), ("PUT", f"/applications/{HEX}"), ("GET", "/")]:
        result = await send(http, method, path)
        assert result.status == 404
        assert result.body["type"] == "NotFound"
        assert result.body["message"]


async def test_missing_or_wrong_token_is_401(server: FakeLosant) -> None:
    path = f"/applications/{server.ids.application_id}"
    for headers in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}]:
        async with aiohttp.ClientSession(base_url=server.url, headers=headers) as anon:
            result = await get(anon, path)
        assert result.status == 401
        assert result.body["type"] == "Unauthorized"
        assert "wrong" not in result.body["message"]


async def test_public_actions_need_no_token(server: FakeLosant) -> None:
    async with aiohttp.ClientSession(base_url=server.url) as anon:
        result = await call(anon, "auth.ssoDomain", server.example_args("auth.ssoDomain"))
    assert result.status == 200


async def test_bad_path_id_is_400_naming_the_param(http: aiohttp.ClientSession) -> None:
    assert "applicationId" in refused(await get(http, "/applications/not-an-id"))


async def test_missing_required_query_is_400(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    result = await get(http, f"/applications/{server.ids.application_id}/search")
    assert "filter" in refused(result)


async def test_enum_violation_is_400(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    path = f"/instances/{server.ids.instance_id}/orgs"
    assert "sortField" in refused(await get(http, path, params={"sortField": "colour"}))
    assert "_links" in refused(await get(http, path, params={"_links": "yes"}))
    assert (await get(http, path, params={"_links": "false", "_embedded": "true"})).status == 200


async def test_bad_bodies_are_400(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    path = f"/instances/{server.ids.instance_id}/orgs"
    cases = [
        ({"name": 5}, "orgConfig.name"),
        ({"name": ""}, "orgConfig.name"),
        ({"description": "no name"}, "orgConfig.name"),
        ({"name": "x", "colour": "red"}, "orgConfig.colour"),
        ({"name": "x", "limits": {"member": -1}}, "orgConfig.limits.member"),
        ({"name": "x", "mfaMode": "sometimes"}, "orgConfig.mfaMode"),
        ({"name": "x", "tags": [{"key": "bad key!", "value": "v"}]}, "orgConfig.tags[0].key"),
    ]
    for body, field in cases:
        assert field in refused(await send(http, "POST", path, json=body)), body


FORMAT_CASES = [
    # action, field, a bad value, a good value, format
    ("instanceOrgs.post", "disabledAt", "yesterday", "2024-05-01T12:00:00.000Z", "date-time"),
    ("applications.post", "expUserTokenCutoff", "2024-02-30T00:00:00Z", "2024-02-29T00:00:00Z",
     "date-time"),
    ("me.patch", "email", "nobody@localhost", "somebody@example.com", "email"),
    ("experienceUsers.post", "email", "a b@example.com", "a.b@example.com", "email"),
    ("dashboards.post", "reportConfigs", [{"toEmail": ["x@"], "cron": "0 * * * *"}],
     [{"toEmail": ["x@example.com"], "cron": "0 * * * *"}], "email"),
    ("dashboards.post", "reportConfigs", [{"callbackUrl": "/relative", "cron": "0 * * * *"}],
     [{"callbackUrl": "https://example.com/hook", "cron": "0 * * * *"}], "uri"),
]  # fmt: skip


@pytest.mark.parametrize(("qualname", "field", "bad", "good", "fmt"), FORMAT_CASES)
async def test_bad_formats_are_400_naming_the_field(
    server: FakeLosant,
    http: aiohttp.ClientSession,
    qualname: str,
    field: str,
    bad: Any,
    good: Any,
    fmt: str,
) -> None:
    action = load_api().actions[qualname]
    assert action.body_param is not None
    param = action.body_param.name
    args = server.example_args(qualname)
    args[param] = {**args[param], field: bad}
    message = refused(await call(http, qualname, args))
    assert message.startswith(f"{param}.{field}")
    assert message.endswith(f"must be a valid {fmt}")
    args[param] = {**args[param], field: good}
    assert (await call(http, qualname, args)).status == action.success_status


async def test_not_json_and_missing_body_are_400(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    app = server.ids.application_id
    path = f"/applications/{app}/mqttPublishMessage"
    result = await send(
        http, "POST", path, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert "JSON" in refused(result)
    assert "payload" in refused(await send(http, "POST", path))


async def test_structured_query_params(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    path = f"/applications/{server.ids.application_id}/devices"
    ok = await get(http, path, params={"query": '{"name": {"$eq": "x"}}'})
    assert ok.status == 200
    assert "query" in refused(await get(http, path, params={"query": "{oops"}))
    # A schema allowing a plain string accepts it bare or JSON-encoded.
    for value in ("gateway", '"gateway"', '["gateway", "peripheral"]'):
        assert (await get(http, path, params={"deviceClass": value})).status == 200
    wrong = await get(http, path, params={"deviceClass": "toaster"})
    assert wrong.status == 400


async def test_array_query_param(http: aiohttp.ClientSession) -> None:
    params = {"keywords[0]": "a", "keywords[1]": "b"}
    assert (await get(http, "/applicationTemplates", params=params)).status == 200
    result = await call(http, "applicationTemplates.get", {"keywords": ["x", "y"]})
    assert result.status == 200


async def test_multipart_uploads(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    app = server.ids.application_id
    args = server.example_args("file.upload")
    assert (await call(http, "file.upload", args)).status == 200
    form = aiohttp.FormData()
    form.add_field("other", "value")
    path = encode_request("file.upload", args).path
    assert "file" in refused(await send(http, "POST", path, data=form))
    form = aiohttp.FormData()
    form.add_field("importBundle", b"PK", filename="bundle.zip")
    form.add_field("options", "{not json")
    bad = await send(http, "POST", f"/applications/{app}/import", data=form)
    assert "options" in refused(bad)


async def test_unexpected_errors_are_500_json(
    server: FakeLosant,
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def boom(*args: object) -> None:
        raise RuntimeError("kaput")

    monkeypatch.setattr(server._generic, "body", boom)
    with caplog.at_level(logging.ERROR, logger="losant_async.testing"):
        result = await get(http, "/me/invites")
    assert result.status == 500
    assert result.body["type"] == "InternalError"
    assert "Traceback" not in result.raw.decode()
    assert "kaput" in caplog.text
    assert server.token not in caplog.text


async def test_generic_answers_are_deterministic_and_reflect_the_request(
    http: aiohttp.ClientSession,
) -> None:
    path = f"/applications/{HEX}"
    dash = f"/dashboards/{HEX}"
    first = await get(http, dash)
    second = await get(http, dash)
    assert first.status == 200 and first.body == second.body
    assert first.body["id"] == HEX
    assert first.headers["Content-Type"] == "application/json"
    assert (await get(http, path)).status == 404  # applications are stored objects
    patched = await send(http, "PATCH", dash, json={"name": "Renamed"})
    assert patched.body["name"] == "Renamed"


async def test_echoed_bodies_keep_only_declared_properties(
    http: aiohttp.ClientSession,
) -> None:
    oauth = {
        "client_id": "a" * 24,
        "redirect_uri": "https://example.com/cb",
        "code_challenge": "c" * 43,
        "code_challenge_method": "S256",
    }
    created = await send(http, "POST", "/me/oauth-tokens", json={"name": "t", "oauth": oauth})
    assert created.status == 201
    echoed = created.body["oauth"]
    assert echoed["client_id"] == "a" * 24
    assert echoed["redirect_uri"] == "https://example.com/cb"
    assert "code_challenge" not in echoed and "code_challenge_method" not in echoed


@pytest.mark.parametrize(
    "bad",
    [
        "a" * 24 + "\n",  # Python's $ matches before a final newline; JavaScript's does not
        "\u0660" * 24,  # Python's \d takes ARABIC-INDIC DIGIT ZERO; JavaScript's does not
        "\uff11" * 24,  # FULLWIDTH DIGIT ONE
    ],
)
async def test_patterns_mean_what_they_mean_in_javascript(
    server: FakeLosant, http: aiohttp.ClientSession, bad: str
) -> None:
    # Sent raw, percent-encoded, past the client's own checks.
    quoted = urllib.parse.quote(bad, safe="")
    app = server.ids.application_id
    for path, name in [
        (f"/applications/{quoted}", "applicationId"),
        (f"/applications/{app}/devices/{quoted}", "deviceId"),
    ]:
        async with http.get(yarl.URL(server.url + path, encoded=True)) as resp:
            assert resp.status == 400, path
            body = await resp.json()
        assert body["type"] == "Validation" and name in body["message"], body
    # The same pattern still takes what JavaScript takes.
    assert (await get(http, f"/applications/{server.ids.application_id}")).status == 200
