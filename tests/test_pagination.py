"""Auto-pagination: both styles against the local Losant server, and the edge cases (pages
answered out of order, errors, empty and short pages, capped sizes, stuck cursors) on a
scripted server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, assert_type

import anyio
import pytest
from aiohttp import web

from losant_async import LosantClient, NotFoundError, RetryPolicy, models
from losant_async.pagination import cursor_pages, items, numbered_pages
from losant_async.testing import FakeLosant, Latency, ResetBefore, Status
from tests.api_facts import LIST_ACTIONS, NOT_PAGINATED, derive_list_actions
from tests.conftest import Scripted, exhaust

pytestmark = pytest.mark.anyio

ORGS = 11
SANDBOXES = 7


@pytest.fixture
async def server() -> AsyncIterator[FakeLosant]:
    async with FakeLosant(orgs=ORGS, sandboxes=SANDBOXES, apps_per_org=1) as srv:
        yield srv


@pytest.fixture
async def client(server: FakeLosant) -> AsyncIterator[LosantClient]:
    async with LosantClient(server.token, base_url=server.url) as c:
        yield c


def org_pages(
    client: LosantClient, instance_id: str, query: dict[str, Any] | None = None, **options: Any
) -> AsyncIterator[models.InstanceOrgs]:
    """The pages of the instance's orgs (``instanceOrgs.get`` with ``query`` besides the
    instance), walked with ``options`` (``per_page``, ``concurrency``)."""
    return numbered_pages(
        client.instance_orgs.get, {"instance_id": instance_id, **(query or {})}, **options
    )


def page_numbers(server: FakeLosant, action: str) -> list[str]:
    return [e.query_dict().get("page", "") for e in server.journal.for_action(action)]


async def every_org_id(server: FakeLosant, client: LosantClient) -> list[str]:
    """Every seeded org's ID in the order the API lists them, read in one page; the
    journal is cleared afterwards."""
    everything = await client.instance_orgs.get(instance_id=server.ids.instance_id, per_page=1000)
    ids = [str(o.id) for o in everything.items or ()]
    assert sorted(ids) == sorted(server.ids.org_ids)
    server.journal.clear()
    return ids


# -- numbered pages against the local server --------------------------------------------


async def test_every_org_in_order_with_pages_fetched_concurrently(
    server: FakeLosant, client: LosantClient
) -> None:
    inst = server.ids.instance_id
    expected = await every_org_id(server, client)
    server.faults.add(Latency(delay=0.01, jitter=0.02))  # replies in any order

    seen: list[str] = []
    pages = org_pages(client, inst, per_page=2, concurrency=3)
    async for org in items(pages):
        assert_type(org, models.InstanceOrg)
        seen.append(str(org.id))
    assert seen == expected  # the name order of the one-page answer
    # 6 pages: the first, then two batches of up to 3 at once.
    assert sorted(page_numbers(server, "instanceOrgs.get")) == ["0", "1", "2", "3", "4", "5"]


async def test_the_page_iterator_yields_typed_pages_in_order(
    server: FakeLosant, client: LosantClient
) -> None:
    inst = server.ids.instance_id
    pages = org_pages(client, inst, {"per_page": 4, "sort_field": "creationDate"}, concurrency=8)
    got: list[models.InstanceOrgs] = [p async for p in pages]
    assert [p.page for p in got] == [0, 1, 2]
    assert [p.count for p in got] == [4, 4, 3]
    assert {p.total_count for p in got} == {ORGS}
    dates = [str(o.creation_date) for p in got for o in p.items or ()]
    assert dates == sorted(dates)  # the caller's own arguments were sent on every page
    assert all(e.query_dict()["sortField"] == "creationDate" for e in server.journal)


async def test_a_walk_from_a_later_page(server: FakeLosant, client: LosantClient) -> None:
    inst = server.ids.instance_id
    full = [o.id async for o in items(org_pages(client, inst))]
    tail = org_pages(client, inst, {"page": 2}, per_page=3)
    assert [o.id async for o in items(tail)] == full[6:]


async def test_one_short_page_is_one_request(server: FakeLosant, client: LosantClient) -> None:
    inst = server.ids.instance_id
    got = [o async for o in items(org_pages(client, inst))]
    assert len(got) == ORGS
    assert page_numbers(server, "instanceOrgs.get") == ["0"]


async def test_an_exactly_full_last_page_needs_no_extra_request(
    server: FakeLosant, client: LosantClient
) -> None:
    pages = numbered_pages(client.applications.get, {"org_id": server.ids.org_id}, per_page=1)
    assert [a.id async for a in items(pages)] == server.ids.org_application_ids[server.ids.org_id]
    # One application: page 0 is full, and the total says there is no page 1.
    assert page_numbers(server, "applications.get") == ["0"]


async def test_a_larger_first_page_then_pages_of_per_page_cover_every_item_once(
    server: FakeLosant, client: LosantClient
) -> None:
    full = await every_org_id(server, client)
    inst = server.ids.instance_id
    pages = org_pages(client, inst, per_page=2, first_page=6)
    sizes: list[int] = []
    seen: list[str] = []
    async for page in pages:
        sizes.append(len(page.items or ()))
        seen += [str(o.id) for o in page.items or ()]
    assert seen == full  # 11 orgs: 6, then 2, 2 and 1, in order, none twice
    assert sizes == [6, 2, 2, 1]
    asked = [(e.query_dict()["page"], e.query_dict()["perPage"])
             for e in server.journal.for_action("instanceOrgs.get")]  # fmt: skip
    assert asked == [("0", "6"), ("3", "2"), ("4", "2"), ("5", "2")]


async def test_a_first_page_that_holds_the_whole_list_is_one_request(
    server: FakeLosant, client: LosantClient
) -> None:
    full = await every_org_id(server, client)
    pages = org_pages(client, server.ids.instance_id, per_page=2, first_page=20)
    assert [str(o.id) async for o in items(pages)] == full
    assert page_numbers(server, "instanceOrgs.get") == ["0"]


async def test_a_first_page_not_a_multiple_of_per_page_is_refused(
    server: FakeLosant, client: LosantClient
) -> None:
    pages = org_pages(client, server.ids.instance_id, per_page=4, first_page=6)
    with pytest.raises(ValueError, match="multiple of per_page"):
        await anext(pages)
    assert page_numbers(server, "instanceOrgs.get") == []


async def test_a_total_that_grows_mid_walk_is_followed(
    server: FakeLosant, client: LosantClient
) -> None:
    inst = server.ids.instance_id
    pages = org_pages(client, inst, {"sort_field": "creationDate"}, per_page=5, concurrency=1)
    seen: list[str | None] = []
    async for page in pages:
        seen += [o.id for o in page.items or ()]
        if page.page == 0:  # newer orgs sort last: they land on pages not fetched yet
            for n in range(6):
                await client.instance_orgs.post(instance_id=inst, org_config={"name": f"New {n}"})
    assert len(seen) == len(set(seen)) == ORGS + 6
    assert set(seen) >= set(server.ids.org_ids)
    assert page_numbers(server, "instanceOrgs.get") == ["0", "1", "2", "3"]


async def test_a_total_that_shrinks_mid_walk_stops_the_walk(
    server: FakeLosant, client: LosantClient
) -> None:
    inst = server.ids.instance_id
    ordered = await client.instance_orgs.get(instance_id=inst, per_page=1000)
    ids = [o.id for o in ordered.items or () if o.id]
    pages = org_pages(client, inst, per_page=3, concurrency=1)
    seen: list[str | None] = []
    async for page in pages:
        seen += [o.id for o in page.items or ()]
        if page.page == 0:
            for org_id in ids[3:9]:  # 11 - 6 = 5 left: page 1 is the last, and short
                await client.instance_org.delete(instance_id=inst, org_id=org_id)
    assert seen == ids[:3] + ids[9:]
    assert page_numbers(server, "instanceOrgs.get")[-2:] == ["0", "1"]


async def test_filters_apply_to_every_page(server: FakeLosant, client: LosantClient) -> None:
    inst = server.ids.instance_id
    args = {"instance_id": inst, "filter_field": "name", "filter": "*Org 1*"}
    got = [
        str(o.name) async for o in items(numbered_pages(client.instance_orgs.get, args, per_page=1))
    ]
    assert sorted(got) == sorted(
        str(o.name)
        for o in (await client.instance_orgs.get(instance_id=inst, per_page=1000)).items or ()
        if o.name and "Org 1" in o.name
    )
    assert len(got) == 2  # Org 1 and Org 10


async def test_a_failing_page_raises_its_own_error_after_the_pages_before_it(
    server: FakeLosant, client: LosantClient
) -> None:
    inst = server.ids.instance_id
    pages = org_pages(client, inst, per_page=2, concurrency=1)
    got: list[models.InstanceOrgs] = []
    with pytest.raises(NotFoundError):
        async for page in pages:
            got.append(page)
            if len(got) == 2:  # the next page fails (404 is not retried)
                server.faults.add(Status(status=404), action="instanceOrgs.get", times=1)
    assert [p.page for p in got] == [0, 1]


async def test_page_errors_are_retried_by_the_client(
    server: FakeLosant, client: LosantClient
) -> None:
    inst = server.ids.instance_id
    server.faults.add(Status(status=503), action="instanceOrgs.get", rate=0.3)
    server.faults.add(ResetBefore(), action="instanceOrgs.get", rate=0.2)
    retry = RetryPolicy(max_retries=20, backoff_base=0.001, budget=None)
    async with LosantClient(server.token, base_url=server.url, retry=retry) as patient:
        pages = org_pages(patient, inst, per_page=1, concurrency=4)
        got = [str(o.id) async for o in items(pages)]
    assert sorted(got) == sorted(server.ids.org_ids)
    assert sum(r.hits for r in server.faults.rules) > 0


# -- cursor pages against the local server ----------------------------------------------


async def test_every_sandbox_by_cursor(server: FakeLosant, client: LosantClient) -> None:
    inst = server.ids.instance_id
    everything = await client.instance_sandboxes.get(instance_id=inst, limit=100)
    expected = [str(b.id) for b in everything.items or ()]
    server.journal.clear()
    seen: list[str] = []
    async for box in items(
        cursor_pages(client.instance_sandboxes.get, {"instance_id": inst}, limit=2)
    ):
        assert_type(box, models.InstanceSandbox)
        seen.append(str(box.id))
    assert seen == expected and sorted(seen) == sorted(server.ids.sandbox_ids)
    cursors = [e.query_dict().get("startingAfterId") for e in server.journal]
    assert cursors == [None, expected[1], expected[3], expected[5]]
    assert {e.query_dict()["limit"] for e in server.journal} == {"2"}


async def test_cursor_pages_from_a_given_cursor(server: FakeLosant, client: LosantClient) -> None:
    inst = server.ids.instance_id
    everything = await client.instance_sandboxes.get(instance_id=inst, limit=100)
    expected = [b.id for b in everything.items or ()]
    args = {"instance_id": inst, "starting_after_id": expected[2], "limit": 3}
    pages: list[models.InstanceSandboxes] = [
        p async for p in cursor_pages(client.instance_sandboxes.get, args)
    ]
    assert [b.id for p in pages for b in p.items or ()] == expected[3:]
    assert [p.has_more for p in pages] == [True, False]


async def test_a_cursor_walk_of_a_single_page(server: FakeLosant, client: LosantClient) -> None:
    inst = server.ids.instance_id
    got = [
        b async for b in items(cursor_pages(client.instance_sandboxes.get, {"instance_id": inst}))
    ]
    assert len(got) == SANDBOXES
    assert len(server.journal.for_action("instanceSandboxes.get")) == 1


async def test_a_failing_cursor_page_raises(server: FakeLosant, client: LosantClient) -> None:
    inst = server.ids.instance_id
    got = []
    with pytest.raises(NotFoundError):
        async for page in cursor_pages(
            client.instance_sandboxes.get, {"instance_id": inst}, limit=3
        ):
            got.append(page)
            server.faults.add(Status(status=404), action="instanceSandboxes.get", times=1)
    assert len(got) == 1


# -- edge cases on a scripted server ----------------------------------------------------


def org_page(page: int, per_page: int, total: int, count: int | None = None) -> dict[str, Any]:
    n = per_page if count is None else count
    first = page * per_page
    orgs = [{"id": f"{i:024x}", "name": f"org {i}"} for i in range(first, first + n)]
    return {"items": orgs, "count": n, "totalCount": total, "perPage": per_page, "page": page}


INST = "5" * 24


@pytest.fixture
async def scripted_client(scripted: Scripted) -> AsyncIterator[LosantClient]:
    async with LosantClient("t", base_url=scripted.url, retry=0) as c:
        yield c


async def test_pages_answered_out_of_order_are_yielded_in_order(
    scripted: Scripted, scripted_client: LosantClient
) -> None:
    """Page 1 is held until page 3 has been answered: the walk must have asked for them
    at once, and must still yield 1 before 3."""
    page3_answered = anyio.Event()
    answered: list[int] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        page = int(request.query["page"])
        if page == 1:
            await page3_answered.wait()
        answered.append(page)
        if page == 3:
            page3_answered.set()
        return web.json_response(org_page(page, 2, 8))

    scripted.fallback = handler
    pages = org_pages(scripted_client, INST, per_page=2)
    got = [p.page async for p in pages]
    assert got == [0, 1, 2, 3]
    assert answered.index(3) < answered.index(1)


async def test_an_error_in_a_concurrent_batch_is_raised_as_is_after_earlier_pages(
    scripted: Scripted, scripted_client: LosantClient
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        page = int(request.query["page"])
        if page == 2:
            return web.json_response({"type": "NotFound", "message": "gone"}, status=404)
        return web.json_response(org_page(page, 2, 10))

    scripted.fallback = handler
    got: list[int | None] = []
    with pytest.raises(NotFoundError, match="gone"):  # not an ExceptionGroup
        async for page in org_pages(scripted_client, INST, per_page=2, concurrency=4):
            got.append(page.page)
    assert got == [0, 1]


@pytest.mark.parametrize(
    ("pages", "expected_requests"),
    [
        # An empty page ends the walk, whatever the total says.
        ([org_page(0, 2, 10), org_page(1, 2, 10, count=0)], 2),
        # So does a short one.
        ([org_page(0, 2, 10), org_page(1, 2, 10, count=1)], 2),
        # An empty first page.
        ([org_page(0, 2, 0, count=0)], 1),
        # A first page shorter than the page size, whatever the total.
        ([org_page(0, 2, 10, count=1)], 1),
    ],
)
async def test_empty_and_short_pages_end_the_walk(
    scripted: Scripted,
    scripted_client: LosantClient,
    pages: list[dict[str, Any]],
    expected_requests: int,
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(pages[int(request.query["page"])])

    scripted.fallback = handler
    walk = org_pages(scripted_client, INST, per_page=2, concurrency=1)
    got = [o.id async for o in items(walk)]
    assert got == [o["id"] for p in pages for o in p["items"]]
    assert len(scripted.seen) == expected_requests


async def test_the_page_size_the_server_answers_with_is_the_one_relied_on(
    scripted: Scripted, scripted_client: LosantClient
) -> None:
    """Asked for 50 a page, the server caps it at 3: full pages of 3 are not the end."""

    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.query["perPage"] == "50"
        page = int(request.query["page"])
        return web.json_response(org_page(page, 3, 8, count=min(3, 8 - 3 * page)))

    scripted.fallback = handler
    walk = org_pages(scripted_client, INST, per_page=50)
    got = [o.id async for o in items(walk)]
    assert got == [f"{i:024x}" for i in range(8)]
    assert sorted(dict(s.query)["page"] for s in scripted.seen) == ["0", "1", "2"]


async def test_without_a_total_pages_are_walked_one_by_one(
    scripted: Scripted, scripted_client: LosantClient
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        page = int(request.query["page"])
        body = org_page(page, 2, 0, count=2 if page < 3 else 1)
        del body["totalCount"]
        return web.json_response(body)

    scripted.fallback = handler
    walk = org_pages(scripted_client, INST, per_page=2)
    assert len([o async for o in items(walk)]) == 7
    assert [dict(s.query)["page"] for s in scripted.seen] == ["0", "1", "2", "3"]
    assert scripted.peak == 1


def box_page(ids: list[int], has_more: bool | None) -> dict[str, Any]:
    body: dict[str, Any] = {"items": [{"id": f"{i:024x}"} for i in ids], "count": len(ids)}
    if has_more is not None:
        body["hasMore"] = has_more
    return body


async def test_a_cursor_page_without_has_more_ends_when_short(
    scripted: Scripted, scripted_client: LosantClient
) -> None:
    answers = [box_page([0, 1], None), box_page([2, 3], None), box_page([4], None)]

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(answers[len(scripted.seen) - 1])

    scripted.fallback = handler
    walk = cursor_pages(scripted_client.instance_sandboxes.get, {"instance_id": INST}, limit=2)
    assert [b.id async for b in items(walk)] == [f"{i:024x}" for i in range(5)]
    assert [dict(s.query).get("startingAfterId") for s in scripted.seen] == [
        None,
        f"{1:024x}",
        f"{3:024x}",
    ]


async def test_a_cursor_that_does_not_advance_is_an_error(
    scripted: Scripted, scripted_client: LosantClient
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(box_page([0, 1], True))

    scripted.fallback = handler
    walk = cursor_pages(scripted_client.instance_sandboxes.get, {"instance_id": INST}, limit=2)
    with pytest.raises(RuntimeError, match="cursor did not advance"):
        await exhaust(walk)
    assert len(scripted.seen) == 2


async def test_an_empty_cursor_page_ends_the_walk_even_with_has_more(
    scripted: Scripted, scripted_client: LosantClient
) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(box_page([], True))

    scripted.fallback = handler
    walk = cursor_pages(scripted_client.instance_sandboxes.get, {"instance_id": INST})
    assert [b async for b in items(walk)] == []
    assert len(scripted.seen) == 1


async def test_breaking_out_of_items_closes_the_page_walk() -> None:
    closed = anyio.Event()

    async def walk() -> AsyncIterator[models.InstanceOrgs]:
        try:
            for n in range(3):
                yield models.InstanceOrgs(items=[models.InstanceOrg(id=str(n))])
        finally:
            closed.set()

    it = items(walk())
    async for org in it:
        assert org.id == "0"
        break
    await it.aclose()  # type: ignore[attr-defined]
    assert closed.is_set()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"per_page": 0}, ValueError, "per_page must be at least 1"),
        ({"per_page": "x"}, ValueError, "per_page takes a positive int"),
        ({"per_page": 2.5}, TypeError, "per_page takes a positive int"),
        ({"concurrency": 0}, ValueError, "concurrency must be at least 1"),
    ],
)
async def test_bad_walk_options_are_refused_before_any_request(
    scripted: Scripted,
    scripted_client: LosantClient,
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        await exhaust(org_pages(scripted_client, INST, **kwargs))
    with pytest.raises(ValueError, match="page must be 0 or more"):
        await exhaust(org_pages(scripted_client, INST, {"page": -1}))
    with pytest.raises(ValueError, match="ending_before_id walks backwards"):
        args = {"instance_id": INST, "ending_before_id": INST}
        await exhaust(cursor_pages(scripted_client.instance_sandboxes.get, args))
    assert scripted.seen == []


# -- the list actions of the API --------------------------------------------------------


def test_list_actions_by_style_as_the_api_describes_them() -> None:
    found, neither = derive_list_actions()
    assert found == list(LIST_ACTIONS)
    assert sorted(neither) == sorted(NOT_PAGINATED)
    styles = [style for _, style, _, _ in LIST_ACTIONS]
    assert styles.count("cursor") == 1 and styles.count("page") == 40


def test_every_page_model_fits_its_style_protocol() -> None:
    """The generated page models have the fields the runtime reads."""
    for _, style, page, _item in LIST_ACTIONS:
        fields = getattr(models, page).__struct_fields__
        assert "items" in fields
        assert ("total_count" if style == "page" else "has_more") in fields
        if style == "page":
            assert getattr(models, page)().total_count is None  # optional, as handled
