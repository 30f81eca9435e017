"""List filters on the stored collections: the simple glob filter, tag filters, parentId,
device classes and advanced queries, alone and together with pagination."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from losant_async import BadRequestError, LosantClient
from losant_async.testing import FakeLosant
from losant_async.testing._call import ErrorAnswer
from losant_async.testing._query import compile_query

from .fakehttp import get, send

pytestmark = pytest.mark.anyio

# name, class, tags; peripherals hang off the gateway.
FLEET = [
    ("Boiler A", "standalone", {"floor": "1", "kind": "boiler"}),
    ("Boiler B", "standalone", {"floor": "2", "kind": "boiler"}),
    ("Gateway East", "gateway", {"floor": "2"}),
    ("pump-1", "peripheral", {"kind": "pump"}),
    ("Pump 2", "peripheral", {}),
    ("Chiller", "standalone", {"floor": "3", "kind": "chiller"}),
]


class Fleet:
    """An application holding FLEET, and helpers listing its devices."""

    def __init__(
        self, server: FakeLosant, http: aiohttp.ClientSession, app: str, ids: dict[str, str]
    ) -> None:
        self.server = server
        self.http = http
        self.app = app
        self.path = f"/applications/{app}/devices"
        self.ids = ids

    async def list(self, **params: Any) -> dict[str, Any]:
        return await self._answer(200, params)

    async def names(self, **params: Any) -> set[str]:
        body = await self.list(perPage="100", **params)
        assert body["totalCount"] == len(body["items"])
        return {d["name"] for d in body["items"]}

    async def error(self, **params: Any) -> dict[str, Any]:
        return await self._answer(400, params)

    async def _answer(self, status: int, params: dict[str, Any]) -> dict[str, Any]:
        """The list's answer to ``params`` (non-strings sent as JSON), which must be ``status``."""
        query = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in params.items()}
        result = await get(self.http, self.path, params=query)
        assert result.status == status, result.body
        body: dict[str, Any] = result.body
        return body


@pytest.fixture
async def fleet(server: FakeLosant, http: aiohttp.ClientSession) -> AsyncIterator[Fleet]:
    created = await send(http, "POST", "/applications", json={"name": "Plant"})
    app = created.body["id"]
    ids: dict[str, str] = {}
    for name, device_class, tags in FLEET:
        body: dict[str, Any] = {
            "name": name,
            "deviceClass": device_class,
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
            "attributes": [{"name": f"{name.split()[0].lower()}Temp", "dataType": "number"}],
        }
        if device_class == "peripheral":
            body["parentId"] = ids["Gateway East"]
        dev = await send(http, "POST", f"/applications/{app}/devices", json=body)
        assert dev.status == 201, dev.body
        ids[name] = dev.body["id"]
    yield Fleet(server, http, app, ids)


ALL = {name for name, _, _ in FLEET}
BOILERS = {"Boiler A", "Boiler B"}
PUMPS = {"pump-1", "Pump 2"}


# -- simple filters ------------------------------------------------------------------------


async def test_glob_filter(fleet: Fleet) -> None:
    assert await fleet.names(filterField="name", filter="boiler*") == BOILERS
    assert await fleet.names(filterField="name", filter="*UMP*") == PUMPS
    assert await fleet.names(filterField="name", filter="Boiler ?") == BOILERS
    assert await fleet.names(filterField="name", filter="nothing*") == set()
    # Blank means no filtering.
    assert await fleet.names(filterField="name", filter="") == ALL
    body = await fleet.list(filterField="name", filter="boiler*")
    assert (body["filterField"], body["filter"]) == ("name", "boiler*")


async def test_tag_filter(fleet: Fleet) -> None:
    assert await fleet.names(tagFilter=[{"key": "kind", "value": "boiler"}]) == BOILERS
    assert await fleet.names(tagFilter=[{"key": "floor"}]) == {
        "Boiler A",
        "Boiler B",
        "Gateway East",
        "Chiller",
    }
    assert await fleet.names(tagFilter=[{"value": "2"}]) == {"Boiler B", "Gateway East"}
    both = [{"key": "floor", "value": "2"}, {"key": "kind"}]
    assert await fleet.names(tagFilter=both) == {"Boiler B"}
    assert await fleet.names(tagFilter=[{"key": "kind", "value": "toaster"}]) == set()
    # The key must carry the value: a "2" under another key does not count.
    assert await fleet.names(tagFilter=[{"key": "kind", "value": "2"}]) == set()
    bad = await fleet.error(tagFilter=[{"key": "bad key!"}])
    assert bad["type"] == "Validation" and "tagFilter[0].key" in bad["message"]


async def test_parent_and_class_filters(fleet: Fleet) -> None:
    gateway = fleet.ids["Gateway East"]
    assert await fleet.names(parentId=gateway) == PUMPS
    assert await fleet.names(parentId=fleet.ids["Chiller"]) == set()
    assert await fleet.names(deviceClass="peripheral") == PUMPS
    assert await fleet.names(deviceClass=["gateway", "peripheral"]) == PUMPS | {"Gateway East"}
    together = {"deviceClass": "standalone", "tagFilter": [{"key": "floor", "value": "1"}]}
    assert await fleet.names(**together) == {"Boiler A"}
    assert await fleet.names(queryDeleted="true") == set()


async def test_filters_with_pagination(fleet: Fleet) -> None:
    seen: list[str] = []
    for page in range(3):
        body = await fleet.list(tagFilter=[{"key": "floor"}], perPage="3", page=str(page))
        assert body["totalCount"] == 4
        assert body["count"] == len(body["items"]) == [3, 1, 0][page]
        seen += [d["name"] for d in body["items"]]
    assert seen == sorted(["Boiler A", "Boiler B", "Gateway East", "Chiller"])
    query = {"deviceClass": {"$ne": "gateway"}}
    desc = await fleet.list(query=query, sortDirection="desc", perPage="2", page="1")
    assert desc["totalCount"] == 5
    every = sorted(ALL - {"Gateway East"}, reverse=True)
    assert [d["name"] for d in desc["items"]] == every[2:4]


# -- advanced queries ----------------------------------------------------------------------


async def test_query_equality_and_sets(fleet: Fleet) -> None:
    assert await fleet.names(query={"name": "Chiller"}) == {"Chiller"}
    assert await fleet.names(query={"name": "chiller"}) == set()
    assert await fleet.names(query={"name": {"$eq": "chiller", "$ci": True}}) == {"Chiller"}
    assert await fleet.names(query={"id": fleet.ids["Pump 2"]}) == {"Pump 2"}
    assert await fleet.names(query={"deviceClass": {"$ne": "standalone"}}) == PUMPS | {
        "Gateway East"
    }
    ids = [fleet.ids["Boiler A"], fleet.ids["Chiller"]]
    assert await fleet.names(query={"id": {"$in": ids}}) == {"Boiler A", "Chiller"}
    assert await fleet.names(query={"id": {"$nin": ids}}) == ALL - {"Boiler A", "Chiller"}
    gateway = fleet.ids["Gateway East"]
    assert await fleet.names(query={"parentId": gateway}) == PUMPS
    assert await fleet.names(query={"parentId": None}) == ALL - PUMPS
    assert await fleet.names(query={"parentId": {"$ne": None}}) == PUMPS


async def test_query_text_and_order(fleet: Fleet) -> None:
    assert await fleet.names(query={"name": {"$startsWith": "Boiler"}}) == BOILERS
    assert await fleet.names(query={"name": {"$startsWith": "pump", "$ci": True}}) == PUMPS
    assert await fleet.names(query={"name": {"$endsWith": " B"}}) == {"Boiler B"}
    assert await fleet.names(query={"name": {"$contains": "EAST", "$ci": True}}) == {"Gateway East"}
    assert await fleet.names(query={"name": {"$gte": "C", "$lt": "H"}}) == {
        "Chiller",
        "Gateway East",
    }
    assert await fleet.names(query={"attributeName": "chillerTemp"}) == {"Chiller"}
    # Dates compare as instants, given as milliseconds or ISO text.
    body = await fleet.list(sortField="creationDate")
    dates = [d["creationDate"] for d in body["items"]]
    assert await fleet.names(query={"creationDate": {"$gte": dates[0]}}) == ALL
    assert await fleet.names(query={"creationDate": {"$lt": "2000-01-01T00:00:00Z"}}) == set()
    assert await fleet.names(query={"creationDate": {"$gt": 946684800000}}) == ALL


async def test_query_tags(fleet: Fleet) -> None:
    assert await fleet.names(query={"tags": {"kind": "boiler"}}) == BOILERS
    assert await fleet.names(query={"tags": {"kind": "boiler", "floor": "2"}}) == {"Boiler B"}
    assert await fleet.names(query={"tags": {"kind": None}}) == BOILERS | {"pump-1", "Chiller"}
    assert await fleet.names(query={"tags": {"kind": {"$in": ["pump", "chiller"]}}}) == {
        "pump-1",
        "Chiller",
    }
    assert await fleet.names(query={"tags": {"$tagValue": "2"}}) == {"Boiler B", "Gateway East"}
    assert await fleet.names(query={"tags": {"$tagKey": "kind", "$tagValue": "pump"}}) == {"pump-1"}
    assert await fleet.names(query={"tags": {"$tagKey": {"$nin": ["floor"]}}}) == {
        "Boiler A",
        "Boiler B",
        "pump-1",
        "Chiller",
    }
    assert await fleet.names(query={"tags": None}) == {"Pump 2"}
    assert await fleet.names(query={"tags": {"$ne": {"floor": None}}}) == PUMPS
    assert await fleet.names(query={"tags": {"$eq": {"floor": "3"}}}) == {"Chiller"}


async def test_query_logic(fleet: Fleet) -> None:
    boilers_or_pump = {"$or": [{"tags": {"kind": "boiler"}}, {"name": "pump-1"}]}
    assert await fleet.names(query=boilers_or_pump) == BOILERS | {"pump-1"}
    narrowed = {"$and": [boilers_or_pump, {"tags": {"floor": {"$nin": ["1"]}}}]}
    assert await fleet.names(query=narrowed) == {"Boiler B"}
    assert await fleet.names(query={"$nor": [{"deviceClass": "standalone"}]}) == PUMPS | {
        "Gateway East"
    }
    # Empty $and / $or match everything, an empty $nor nothing.
    assert await fleet.names(query={"$and": []}) == ALL
    assert await fleet.names(query={"$or": []}) == ALL
    assert await fleet.names(query={"$nor": []}) == set()
    assert await fleet.names(query={}) == ALL


async def test_query_overrides_simple_filters(fleet: Fleet) -> None:
    both = {
        "query": {"name": "Chiller"},
        "filterField": "name",
        "filter": "Boiler*",
        "deviceClass": "peripheral",
        "tagFilter": [{"key": "kind", "value": "pump"}],
    }
    assert await fleet.names(**both) == {"Chiller"}
    assert "filter" not in await fleet.list(**both)


async def test_unsupported_operators_are_400(fleet: Fleet) -> None:
    cases = [
        ({"name": {"$like": "B*"}}, "query.name.$like"),
        ({"$not": [{"name": "x"}]}, "query.$not"),
        ({"$or": [{"name": {"$regex": "^B"}}]}, "query.$or[0].name.$regex"),
        ({"tags": {"$tagKey": {"$eq": "kind"}}}, "query.tags"),
        ({"colour": "red"}, "query.colour"),
    ]
    for query, field in cases:
        body = await fleet.error(query=query)
        assert body["type"] == "Validation"
        assert body["message"].startswith(field), (query, body)


def test_the_matcher_refuses_what_it_cannot_apply() -> None:
    """Beyond the schema check: the matcher itself never ignores an operator."""
    cases = [
        ({"name": {"$like": "x"}}, "query.name.$like is not a supported operator"),
        ({"$xor": []}, "query.$xor is not a supported operator"),
        ({"$and": {"name": "x"}}, "query.$and must be an array"),
        ({"name": {"$in": "x"}}, "query.name.$in must be an array"),
        ({"name": {"$ci": "yes"}}, "query.name.$ci must be true or false"),
        ({"name": {"$contains": 5}}, "query.name.$contains must be a string"),
        ({"tags": {"$tagKey": "a", "$other": 1}}, "query.tags.$other is not a supported operator"),
        ({"tags": {"a": {"$regex": "1"}}}, "query.tags.a.$regex is not a supported operator"),
        ({"tags": {"$exists": True}}, "query.tags.$exists is not a supported operator"),
        ({"tags": 5}, "query.tags must be an object or null"),
        ([], "query must be an object"),
    ]  # fmt: skip
    for query, message in cases:
        with pytest.raises(ErrorAnswer) as caught:
            compile_query(query)
        assert (caught.value.status, caught.value.kind) == (400, "Validation")
        assert caught.value.message == message


# -- names, tag keys and values, attribute names --------------------------------------------


async def test_device_names_tags_and_attributes(fleet: Fleet) -> None:
    base = fleet.path
    names = (await get(fleet.http, f"{base}/deviceNames", params={"startsWith": "b"})).body
    assert [d["name"] for d in names["deviceSummary"]] == ["Boiler A", "Boiler B"]
    assert names["deviceSummary"][0] == {
        "id": fleet.ids["Boiler A"],
        "deviceClass": "standalone",
        "name": "Boiler A",
    }
    keys = (await get(fleet.http, f"{base}/tagKeys")).body
    assert keys == {"tagKeys": ["floor", "kind"]}
    query = json.dumps({"deviceClass": "peripheral"})
    only_pumps = (await get(fleet.http, f"{base}/tagKeys", params={"query": query})).body
    assert only_pumps == {"tagKeys": ["kind"]}
    values = (await get(fleet.http, f"{base}/tagValues", params={"key": "kind"})).body
    assert values == {"tagKey": "kind", "tagValues": ["boiler", "chiller", "pump"]}
    some = await get(fleet.http, f"{base}/tagValues", params={"key": "kind", "startsWith": "C"})
    assert some.body["tagValues"] == ["chiller"]
    attrs = (await get(fleet.http, f"{base}/attributeNames", params={"query": query})).body
    assert attrs == {"attributeNames": ["pump-1Temp", "pumpTemp"]}
    none = await get(fleet.http, f"{base}/attributeNames", params={"dataType": "gps"})
    assert none.body == {"attributeNames": []}


# -- seeded devices and the other stored collections ---------------------------------------


async def test_seeded_devices_carry_tags(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    path = f"/applications/{server.ids.application_id}/devices"
    items = (await get(http, path)).body["items"]
    assert items and all({t["key"] for t in d["tags"]} == {"floor", "zone"} for d in items)
    floor = next(t["value"] for t in items[0]["tags"] if t["key"] == "floor")
    params = {"tagFilter": json.dumps([{"key": "floor", "value": floor}])}
    matched = (await get(http, path, params=params)).body["items"]
    expected = [d["id"] for d in items if {"key": "floor", "value": floor} in d["tags"]]
    assert [d["id"] for d in matched] == expected


async def test_instance_org_query(server: FakeLosant, http: aiohttp.ClientSession) -> None:
    path = f"/instances/{server.ids.instance_id}/orgs"
    tagged = {"name": "Tagged Org", "tags": [{"key": "tier", "value": "gold"}]}
    org_id = (await send(http, "POST", path, json=tagged)).body["id"]
    everything = (await get(http, path)).body["items"]
    assert len(everything) == 4

    def listed(query: Any, **params: str) -> Any:
        return get(http, path, params={"query": json.dumps(query), **params})

    gold = (await listed({"tags": {"tier": "gold"}})).body
    assert [o["id"] for o in gold["items"]] == [org_id] and gold["totalCount"] == 1
    assert gold["items"][0]["tags"] == tagged["tags"]
    first = everything[0]
    by_name = (await listed({"name": {"$ne": first["name"]}}, perPage="2", page="1")).body
    assert by_name["totalCount"] == 3 and by_name["count"] == 1
    assert first["id"] not in [o["id"] for o in by_name["items"]]
    seeded = (await listed({"$nor": [{"id": org_id}]})).body
    assert {o["id"] for o in seeded["items"]} == set(server.ids.org_ids) - {org_id}
    # Fields the server does not store are read from the answer itself.
    flag = first["isReadOnly"]
    same = (await listed({"isReadOnly": flag})).body
    assert same["totalCount"] == 4
    assert (await listed({"isReadOnly": {"$ne": flag}})).body["totalCount"] == 0
    bad = await listed({"name": {"$regex": "x"}})
    assert bad.status == 400 and bad.body["type"] == "Validation"
    assert bad.body["message"].startswith("query.name")


async def test_application_and_sandbox_filters(
    server: FakeLosant, http: aiohttp.ClientSession
) -> None:
    org = server.ids.org_id
    apps = await get(http, "/applications", params={"orgId": org, "filterField": "name"})
    names = [a["name"] for a in apps.body["items"]]
    assert len(names) == 2
    one = await get(http, "/applications", params={"filterField": "name", "filter": names[0]})
    assert [a["name"] for a in one.body["items"]] == [names[0]]
    paged = await get(http, "/applications", params={"filter": "*app*", "filterField": "name"})
    assert paged.body["totalCount"] == len(server.ids.application_ids)
    half = await get(
        http, "/applications", params={"filter": "*APP*", "filterField": "name", "perPage": "3"}
    )
    assert half.body["count"] == 3 and half.body["totalCount"] == paged.body["totalCount"]

    path = f"/instances/{server.ids.instance_id}/sandboxes"
    boxes = (await get(http, path)).body["items"]
    email = boxes[0]["email"]
    found = await get(http, path, params={"filterField": "email", "filter": email.upper()})
    assert [b["email"] for b in found.body["items"]] == [email]
    missing = await get(http, path, params={"filterField": "lastName", "filter": "zz*"})
    assert missing.body["items"] == [] and missing.body["hasMore"] is False


async def test_the_client_sends_filters_the_server_applies(fleet: Fleet) -> None:
    app = fleet.app
    async with LosantClient(fleet.server.token, base_url=fleet.server.url) as client:
        devices = await client.devices.get(
            application_id=app,
            tag_filter=[{"key": "kind", "value": "boiler"}],
            per_page=1,
        )
        assert devices.total_count == 2 and devices.count == 1
        assert devices.items is not None and devices.items[0].name == "Boiler A"
        queried = await client.devices.get(
            application_id=app, query={"$or": [{"name": "Chiller"}, {"tags": {"kind": "pump"}}]}
        )
        assert {d.name for d in queried.items or ()} == {"Chiller", "pump-1"}
        with pytest.raises(BadRequestError) as caught:
            await client.devices.get(application_id=app, query={"name": {"$like": "x"}})
        assert caught.value.status == 400
