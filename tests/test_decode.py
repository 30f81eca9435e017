"""Responses whose values drift from the schema: decoded leniently, the repairs reported.

Each body is answered over TCP by a purpose-built server on 127.0.0.1 (``scripted``) or by
the local Losant server with a real answer altered, and read through the client's own
calls and streams. The property test at the end mutates valid encodings of a sample of
models at one random place and decodes them with the same function.
"""

from __future__ import annotations

import datetime as dt
import json
import typing
import warnings
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losant_async import DecodeError, LosantClient, LosantDecodeWarning, models
from losant_async._decode import decode_leniently
from losant_async.testing import FakeLosant, Status
from tests.conftest import Scripted, reply

ID = "575ec8687ae143cd83dc4a97"
ID2 = "575ec8687ae143cd83dc4a98"
UTC = dt.UTC

pytestmark = pytest.mark.anyio


def repaired(record: pytest.WarningsRecorder) -> dict[str, str]:
    """The repairs reported by the one LosantDecodeWarning recorded: path -> note."""
    found = [w.message for w in record if isinstance(w.message, LosantDecodeWarning)]
    assert len(found) == 1, [str(w.message) for w in record]
    return {r.path: r.note for r in found[0].repairs}


@pytest.fixture
async def client(scripted: Scripted) -> AsyncIterator[LosantClient]:
    async with LosantClient("t", base_url=scripted.url, retry=0) as c:
        yield c


# -- through the client, against a scripted server -----------------------------------------


def breakdown(row_value: Any) -> dict[str, Any]:
    return {
        "start": "2024-01-01T00:00:00.000Z",
        "end": "2024-01-04T00:00:00.000Z",
        "counts": [
            {"date": "2024-01-01T00:00:00.000Z", "value": 10},
            {"date": "2024-01-02T00:00:00.000Z", "value": row_value},
            {"date": "2024-01-03T00:00:00.000Z", "value": 30},
        ],
    }


async def usage(c: LosantClient) -> models.PayloadCountsBreakdown:
    return await c.instance_org.payload_counts_breakdown(instance_id=ID, org_id=ID2, start=0)


@pytest.mark.parametrize(
    ("sent", "kept", "note"),
    [
        ("20", 20, "string coerced to int"),  # msgspec's lax rules apply
        ("n/a", None, "string does not fit int | None; default kept"),
        ({"n": 20}, None, "object does not fit int | None; default kept"),
    ],
)
async def test_breakdown_row_with_a_string_count_keeps_the_other_rows(
    scripted: Scripted, client: LosantClient, sent: Any, kept: int | None, note: str
) -> None:
    scripted.script.append(reply(200, breakdown(sent)))
    with pytest.warns(LosantDecodeWarning) as record:
        result = await usage(client)
    assert [row.value for row in result.counts or []] == [10, kept, 30]
    assert [row.date for row in result.counts or []] == [
        dt.datetime(2024, 1, day, tzinfo=UTC) for day in (1, 2, 3)
    ]
    assert result.end == dt.datetime(2024, 1, 4, tzinfo=UTC)
    assert repaired(record) == {"$.counts[1].value": note}


async def test_a_long_list_bad_in_runs_and_throughout_keeps_every_good_row(
    scripted: Scripted, client: LosantClient
) -> None:
    # Rows 0-299 good but every 50th null; 300-599 every count bad; 600-999 every 7th bad:
    # long good runs, a stretch bad throughout and sparse bad rows in one list.
    def row(i: int) -> dict[str, Any] | None:
        if i < 300 and i % 50 == 0:
            return None
        bad = 300 <= i < 600 or (i >= 600 and i % 7 == 0)
        return {"date": f"2024-01-01T{i % 24:02d}:00:00Z", "value": "n/a" if bad else i}

    rows = [row(i) for i in range(1000)]
    scripted.script.append(reply(200, {"counts": rows}))
    with pytest.warns(LosantDecodeWarning) as record:
        result = await usage(client)
    expected = [None if r["value"] == "n/a" else r["value"] for r in rows if r is not None]
    assert [r.value for r in result.counts or []] == expected
    assert [r.date.hour for r in result.counts or [] if r.date] == [
        i % 24 for i, r in enumerate(rows) if r is not None
    ]
    notes = repaired(record)
    assert len(notes) == 6 + 300 + len(range(602, 1000, 7))
    assert notes["$.counts[50]"] == "null dropped from the array"
    assert notes["$.counts[301].value"] == "string does not fit int | None; default kept"
    # The text names each kind of repair once, without indexes, IDs or values.
    assert str(record[0].message) == (
        "body repaired to fit PayloadCountsBreakdown: "
        "$.counts[*]: null dropped from the array; "
        "$.counts[*].value: string does not fit int | None; default kept"
    )


async def test_device_whose_attribute_list_holds_a_null(
    scripted: Scripted, client: LosantClient
) -> None:
    device = {
        "id": ID2,
        "name": "boiler",
        "attributes": [
            {"name": "temp", "dataType": "number"},
            None,
            {"name": "on", "dataType": "boolean"},
        ],
        "tags": [{"key": "floor", "value": "2"}, None],
    }
    scripted.script.append(reply(200, device))
    with pytest.warns(LosantDecodeWarning) as record:
        result = await client.device.get(application_id=ID, device_id=ID2)
    assert result.name == "boiler" and result.id == ID2
    assert [(a.name, a.data_type) for a in result.attributes or []] == [
        ("temp", "number"),
        ("on", "boolean"),
    ]
    assert [(t.key, t.value) for t in result.tags or []] == [("floor", "2")]
    assert repaired(record) == {
        "$.attributes[1]": "null dropped from the array",
        "$.tags[1]": "null dropped from the array",
    }


async def test_application_whose_dates_are_epoch_milliseconds(
    scripted: Scripted, client: LosantClient
) -> None:
    app = {
        "id": ID,
        "name": "plant",
        "creationDate": 1700000000123,
        "lastUpdated": "1700000000456",  # a number sent as a string
    }
    scripted.script.append(reply(200, app))
    with pytest.warns(LosantDecodeWarning) as record:
        result = await client.application.get(application_id=ID)
    assert result.name == "plant"
    assert result.creation_date == dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert result.last_updated == dt.datetime(2023, 11, 14, 22, 13, 20, 456000, tzinfo=UTC)
    assert set(repaired(record)) == {"$.creationDate", "$.lastUpdated"}
    warning = record[0].message
    assert isinstance(warning, LosantDecodeWarning)
    assert (warning.method, warning.path, warning.status) == ("GET", f"/applications/{ID}", 200)
    assert warning.body == json.dumps(app).encode()


async def test_the_same_drift_warns_once_whatever_the_ids_and_rows(
    scripted: Scripted, client: LosantClient
) -> None:
    # Under Python's default filter a text is shown once: a long-lived process that meets
    # the same drift on every poll warns once, and remembers one text, not one per call.
    for n in range(3):
        rows = [{"value": 1}] * n + [{"value": "n/a"}]  # the bad row moves
        scripted.script.append(reply(200, {"start": n * 1000, "counts": rows}))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("default")
        for n in range(3):
            await client.instance_org.payload_counts_breakdown(instance_id=ID, org_id=f"{n:024x}")
    texts = [str(w.message) for w in record if isinstance(w.message, LosantDecodeWarning)]
    assert texts == [
        "body repaired to fit PayloadCountsBreakdown: $.start: number read as epoch "
        "milliseconds; $.counts[*].value: string does not fit int | None; default kept"
    ]
    assert [seen.path.split("/")[4] for seen in scripted.seen] == [f"{n:024x}" for n in range(3)]


async def test_wrong_types_at_depth_default_only_the_bad_value(
    scripted: Scripted, client: LosantClient
) -> None:
    def device(n: int, **extra: Any) -> dict[str, Any]:
        return {"id": f"{n:024x}", "name": f"d{n}", **extra}

    body = {
        "items": [
            device(0, tags=[{"key": "k", "value": "v"}]),
            device(1, attributes=[{"name": "a", "description": 5}]),  # number for a string
            device(2, tags="k=v"),  # a string where an array belongs
            device(3, name={"en": "d3"}),  # an object where a string belongs
            device(4, keepDuplicates="true", systemInterval=60.0),  # lax coercions
        ],
        "count": "5",
        "totalCount": 5,
    }
    scripted.script.append(reply(200, body))
    with pytest.warns(LosantDecodeWarning) as record:
        result = await client.devices.get(application_id=ID)
    items = result.items or []
    assert [d.id for d in items] == [f"{n:024x}" for n in range(5)]
    assert [d.name for d in items] == ["d0", "d1", "d2", None, "d4"]
    assert [(t.key, t.value) for t in items[0].tags or []] == [("k", "v")]
    assert [(a.name, a.description) for a in items[1].attributes or []] == [("a", None)]
    assert items[2].tags is None
    assert items[4].keep_duplicates is True and items[4].system_interval == 60
    assert result.count == 5 and result.total_count == 5
    assert repaired(record) == {
        "$.items[1].attributes[0].description": "number does not fit str | None; default kept",
        "$.items[2].tags": "string does not fit list[DeviceTag] | None; default kept",
        "$.items[3].name": "object does not fit str | None; default kept",
        "$.items[4].keepDuplicates": "string coerced to bool",
        "$.items[4].systemInterval": "number coerced to int",
        "$.count": "string coerced to int",
    }


@pytest.mark.parametrize(
    "body",
    [
        b"<html>502</html>",  # not JSON
        b'{"id": "575ec8687ae143cd83dc4a97", "na',  # cut short
        b'[{"id": "575ec8687ae143cd83dc4a97"}]',  # JSON, but an array where an object belongs
        b'"575ec8687ae143cd83dc4a97"',
        b'{"id": "575ec8687ae143cd83dc4a97", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
    ids=["html", "cut short", "array", "string", "nested 5000 deep"],
)
async def test_a_body_that_cannot_be_repaired_raises_with_the_raw_body(
    scripted: Scripted, client: LosantClient, body: bytes
) -> None:
    scripted.script.append(reply(200, body, **{"Content-Type": "application/json"}))
    with warnings.catch_warnings():
        warnings.simplefilter("error", LosantDecodeWarning)
        with pytest.raises(DecodeError, match="body does not fit Application") as info:
            await client.application.get(application_id=ID)
    assert info.value.body == body and info.value.status == 200
    assert info.value.path == f"/applications/{ID}"


async def test_a_good_body_warns_nothing(scripted: Scripted, client: LosantClient) -> None:
    scripted.script.append(reply(200, breakdown(20)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = await usage(client)
    assert [row.value for row in result.counts or []] == [10, 20, 30]


# -- a stream ----------------------------------------------------------------------------


async def test_a_stream_event_with_a_null_in_its_data_is_delivered(
    scripted: Scripted, client: LosantClient
) -> None:
    events = [
        {"time": 1700000000000, "data": {"temp": 21.5, "bad": None, "on": True}},
        {"time": 1700000001000, "data": {"temp": 22}},
    ]

    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for n, event in enumerate(events):
            await response.write(
                f"id: {n}\nevent: deviceState\ndata: {json.dumps(event)}\n\n".encode()
            )
        return response  # the stream ends; the client reads both events first

    scripted.script.append(stream)
    async with client.device.state_stream(application_id=ID, device_id=ID2) as states:
        with pytest.warns(LosantDecodeWarning) as record:
            first = await anext(states)
        second = await anext(states)
    assert first.data == {"temp": 21.5, "on": True} and first.time == 1700000000000
    assert second.data == {"temp": 22}
    assert repaired(record) == {
        "$.data.bad": "null that does not fit str | int | float | bool dropped"
    }
    assert "deviceState event repaired to fit DeviceState" in str(record[0].message)


# -- against the local Losant server ------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[FakeLosant]:
    async with FakeLosant(orgs=1, apps_per_org=1, devices_per_app=1) as s:
        yield s


async def test_a_real_answer_with_epoch_dates_and_a_null_tag(server: FakeLosant) -> None:
    app_id, device_id = server.ids.application_id, server.ids.device_id
    async with LosantClient(server.token, base_url=server.url, retry=0) as c:
        good = await c.device.get(application_id=app_id, device_id=device_id)
        raw = await c.request("GET", f"/applications/{app_id}/devices/{device_id}")
        assert good.creation_date is not None and raw["tags"]
        millis = 1700000000123
        raw["creationDate"] = millis
        raw["tags"].insert(1, None)
        body = json.dumps(raw).encode()
        server.faults.add(Status(status=200, body=body), action="device.get", times=1)
        with pytest.warns(LosantDecodeWarning) as record:
            bent = await c.device.get(application_id=app_id, device_id=device_id)
    assert bent.creation_date == dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)
    assert msgspec.structs.replace(bent, creation_date=good.creation_date) == good
    assert set(repaired(record)) == {"$.creationDate", "$.tags[1]"}
    warning = record[0].message
    assert isinstance(warning, LosantDecodeWarning) and warning.body == body


# -- property: one mutation anywhere, the rest intact -------------------------------------

SAMPLE: list[type[msgspec.Struct]] = [
    models.Application,
    models.Device,
    models.Devices,
    models.DeviceState,
    models.PayloadCountsBreakdown,
    models.Dashboard,
    models.ExperienceGroups,
    models.DataTables,
    models.AuditLogs,
    models.Org,
    models.Flow,
    models.AdvancedDeviceQuery,
]

WRONG: list[Any] = ["text", "12", 12, 1.5, True, None, {"k": 1}, [1, "a", None], 1700000000000]

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)


def _args(t: Any) -> tuple[Any, ...]:
    return typing.get_args(t)


def json_of(t: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Valid JSON for a model type (datetimes as RFC 3339 text), nesting cut at depth 3."""
    origin = typing.get_origin(t)
    if t is Any:
        return _JSON
    if t is type(None):
        return st.none()
    if t is str:
        return st.text(max_size=8)
    if t is bool:
        return st.booleans()
    if t is int:
        return st.integers(-(2**53), 2**53)
    if t is float:
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if t is dt.datetime:
        return st.datetimes(
            min_value=dt.datetime(2000, 1, 1),
            max_value=dt.datetime(2100, 1, 1),
            timezones=st.just(UTC),
        ).map(lambda d: d.isoformat())
    if origin is list:
        return st.lists(json_of(_args(t)[0], depth + 1), max_size=0 if depth > 3 else 3)
    if origin is dict:
        return st.dictionaries(st.text(max_size=5), json_of(_args(t)[1], depth + 1), max_size=2)
    if origin is not None:  # a union: null only where nesting stops (absent is as good)
        members = [a for a in _args(t) if a is not type(None)]
        if depth > 3 and type(None) in _args(t):
            members = [type(None)]
        return st.one_of([json_of(a, depth) for a in members])
    assert isinstance(t, type) and issubclass(t, msgspec.Struct), t
    fields = msgspec.structs.fields(t)
    return st.fixed_dictionaries(
        {}, optional={f.encode_name: json_of(f.type, depth + 1) for f in fields}
    )


def places(value: Any, t: Any, path: tuple[Any, ...] = ()) -> list[tuple[str, tuple[Any, ...]]]:
    """Where a value can be mutated: ("field", path to a model's field) and ("list", path
    to a list of items that cannot be null)."""
    found: list[tuple[str, tuple[Any, ...]]] = []
    for member in _args(t) if typing.get_origin(t) not in (None, list, dict) else (t,):
        origin = typing.get_origin(member)
        if isinstance(value, dict) and isinstance(member, type):
            if issubclass(member, msgspec.Struct):
                for f in msgspec.structs.fields(member):
                    if f.encode_name in value:
                        found.append(("field", (*path, f.encode_name)))
                        found += places(value[f.encode_name], f.type, (*path, f.encode_name))
        elif isinstance(value, list) and origin is list:
            item = _args(member)[0]
            if item is not Any and type(None) not in _args(item):
                found.append(("list", path))
            for i, x in enumerate(value):
                found += places(x, item, (*path, i))
        elif isinstance(value, dict) and origin is dict:
            for k, x in value.items():
                found += places(x, _args(member)[1], (*path, k))
    return found


def cut(value: Any, path: tuple[Any, ...]) -> Any:
    """A copy of ``value`` without the entry at ``path``."""
    if not path:
        return None
    copy = json.loads(json.dumps(value))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict):
        parent.pop(path[-1], None)
    return copy


@st.composite
def mutated(draw: st.DrawFn) -> tuple[type[msgspec.Struct], bytes, Any, str, tuple[Any, ...]]:
    model: type[msgspec.Struct] = draw(st.sampled_from(SAMPLE))
    valid = draw(json_of(model))
    spots = places(valid, model)
    if not spots:
        return model, msgspec.json.encode(valid), valid, "none", ()
    # Kind, then depth, then the place: most places are top-level fields, and the
    # mutations of interest are as often in lists and deep down.
    kind = draw(st.sampled_from(sorted({k for k, _ in spots})))
    depth = draw(st.sampled_from(sorted({len(p) for k, p in spots if k == kind})))
    path: tuple[Any, ...] = draw(
        st.sampled_from([p for k, p in spots if k == kind and len(p) == depth])
    )
    bent = json.loads(json.dumps(valid))
    parent = bent
    for key in path[:-1] if kind == "field" else path:
        parent = parent[key]
    if kind == "field":
        parent[path[-1]] = draw(st.sampled_from(WRONG))
    else:
        parent.insert(draw(st.integers(0, len(parent))), None)
    return model, msgspec.json.encode(bent), valid, kind, path


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_one_mutation_anywhere_still_decodes_with_the_rest_intact(
    case: tuple[type[msgspec.Struct], bytes, Any, str, tuple[Any, ...]],
) -> None:
    model, body, valid, kind, path = case
    decoder = msgspec.json.Decoder(model)
    original = msgspec.to_builtins(decoder.decode(msgspec.json.encode(valid)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LosantDecodeWarning)
        try:
            result = decoder.decode(body)
        except msgspec.ValidationError as exc:
            result = decode_leniently(
                decoder, body, exc, what="body", status=200, method="GET", path="/"
            )
    assert isinstance(result, model)
    got = msgspec.to_builtins(result)
    if kind == "field":  # the field took the value, coerced, or kept its default
        assert cut(got, path) == cut(original, path)
    else:  # the null inserted into the list is dropped
        assert got == original
