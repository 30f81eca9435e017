"""Every action, called through the generated client against the local Losant server.

The server validates each request the way Losant does (route, token, every param against
its pattern, enum and schema), so a 2xx answer proves the client encoded it right. The
answer, as the server's journal kept it, is then compared field by field with the Struct
the client returned: nothing declared may be lost or altered in decoding.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import anyio
import msgspec
import pytest

from codegen.naming import pascal, snake
from losant_async import LosantClient, models
from losant_async.testing import FakeLosant
from losant_async.testing._spec import load_api
from tests.api_facts import NON_TIME_DEFAULTS

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.fake_losant(orgs=2, sandboxes=1, apps_per_org=1, devices_per_app=2),
]

API = load_api()
ACTIONS = sorted(API.actions)


class Fields(dict[str, Any]):
    """The fields of a decoded Struct, by wire name."""


def plain(value: Any) -> Any:
    """A decoded value as JSON-like data under its wire names, defaults kept."""
    if isinstance(value, msgspec.Struct):
        fields = msgspec.structs.fields(value)
        return Fields({f.encode_name: plain(getattr(value, f.name)) for f in fields})
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def assert_same(got: Any, sent: Any, where: str = "$") -> None:
    """``got`` (decoded) holds everything ``sent`` (the raw JSON) did."""
    if isinstance(sent, dict):
        assert isinstance(got, dict), where
        for key, value in sent.items():
            # A key the schema does not declare is ignored by design (API drift); that
            # every declared one has its field is checked in test_generated_api.
            if key in got or not isinstance(got, Fields):
                assert key in got, f"{where}.{key} was dropped in decoding"
                assert_same(got[key], value, f"{where}.{key}")
    elif isinstance(sent, list):
        assert isinstance(got, list) and len(got) == len(sent), where
        for i, (g, s) in enumerate(zip(got, sent, strict=True)):
            assert_same(g, s, f"{where}[{i}]")
    elif isinstance(got, dt.datetime):
        assert got.tzinfo is not None, where
        assert got == dt.datetime.fromisoformat(sent.replace("Z", "+00:00")), where
    else:
        assert got == sent, (where, got, sent)


def method_of(client: LosantClient, qualname: str) -> Any:
    resource, action = qualname.split(".")
    return getattr(getattr(client, snake(resource)), snake(action))


@pytest.mark.parametrize("qualname", ACTIONS)
async def test_action_against_the_server(server: FakeLosant, qualname: str) -> None:
    spec = API.actions[qualname]
    args = {
        snake(k): v
        for k, v in server.example_args(qualname).items()
        # A time param's default that is no time ("now"): the client sends nothing instead.
        if NON_TIME_DEFAULTS.get((qualname, k), object()) != v
    }
    async with LosantClient(server.token, base_url=server.url, retry=0) as client:
        if spec.is_stream:
            args["keep_alive_interval"] = 1
            if "topic" in args:
                args["topic"] = "plant/#"
            await _stream_one_event(server, client, qualname, args)
            return
        result = await method_of(client, qualname)(**args)

    [entry] = server.journal
    assert entry.action == qualname and entry.status == spec.success_status, entry.response
    schema = spec.success_schema
    if schema is None:
        assert result is None
        return
    expected = getattr(models, pascal(schema))
    if isinstance(expected, type):
        assert isinstance(result, expected)
    assert_same(plain(result), json.loads(entry.response))


async def _stream_one_event(
    server: FakeLosant, client: LosantClient, qualname: str, args: dict[str, Any]
) -> None:
    app_id, device_id = args["application_id"], str(args.get("device_id"))
    expected: type[msgspec.Struct]
    with anyio.fail_after(5):
        async with method_of(client, qualname)(**args) as stream:
            # The server has answered 200; keep trying until the subscription is live.
            while True:
                if qualname == "application.mqttSubscriptionStream":
                    reached = server.publish(app_id, "plant/line1", "hello")
                    expected = models.MqttPublishBody
                elif qualname == "device.stateStream":
                    reached = server.send_state(app_id, device_id, {"data": {"temp": 21.5}})
                    expected = models.DeviceState
                else:
                    reached = server.send_command(app_id, device_id, "reboot", {"delay": 3})
                    expected = models.DeviceCommand
                if reached:
                    break
                await anyio.sleep(0.01)
            event = await stream.__anext__()
    assert isinstance(event, expected)
    if isinstance(event, models.MqttPublishBody):
        assert (event.topic, event.message) == ("plant/line1", "hello")
    elif isinstance(event, models.DeviceState):
        assert event.data == {"temp": 21.5} and event.time is not None
    else:
        assert isinstance(event, models.DeviceCommand)
        assert (event.name, event.payload) == ("reboot", {"delay": 3})
    [entry] = server.journal
    assert entry.action == qualname and entry.status == 200
