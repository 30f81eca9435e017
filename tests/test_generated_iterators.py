"""The generated iterators of every list action and the typed time parameters: what the
generator derives from the API description, and both at work against the local server.

mypy checks the ``assert_type`` lines: the item and page types are inferred from the
generated signatures alone.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, assert_type

import pytest

from codegen.__main__ import build
from codegen.naming import snake
from codegen.spec import DEFAULT_API
from codegen.spec import load as load_spec
from losant_async import LosantClient, models
from losant_async._action import Action
from losant_async._times import to_epoch_ms
from losant_async.testing import FakeLosant
from tests.api_facts import LIST_ACTIONS, NON_TIME_DEFAULTS, NOT_PAGINATED, TIME_PARAMS
from tests.test_pagination import every_org_id

pytestmark = pytest.mark.anyio

ORGS = 23
SANDBOXES = 9


def _views() -> list[Any]:
    _, _, resources = build(load_spec(DEFAULT_API))
    return [(r, a) for r in resources for a in r.actions]


VIEWS = _views()


def _method(client: LosantClient, resource: str, attr: str) -> Any:
    return getattr(getattr(client, snake(resource)), attr)


def _iterator_names(action: str) -> tuple[str, str]:
    base = "iterate" if action == "get" else f"iterate_{snake(action)}"
    return base, f"{base}_pages"


# -- what the generator derives ---------------------------------------------------------


def test_the_generator_finds_every_list_action_with_its_style_and_models() -> None:
    derived = [
        (f"{r.name}.{a.name}", a.paging.style, a.paging.page, a.paging.item)
        for r, a in VIEWS
        if a.paging is not None
    ]
    assert sorted(derived) == sorted(LIST_ACTIONS)
    assert len(derived) == 41
    walked = {name for name, *_ in derived}
    assert not walked & set(NOT_PAGINATED)


def test_every_list_action_has_typed_plain_iterators() -> None:
    client = LosantClient("t")
    for qualname, style, page, item in LIST_ACTIONS:
        resource, action = qualname.split(".")
        list_call = inspect.signature(_method(client, resource, snake(action)))
        for attr, returns in zip(_iterator_names(action), (item, page), strict=True):
            method = _method(client, resource, attr)
            assert not inspect.iscoroutinefunction(method), qualname
            assert method.__doc__, qualname
            sig = inspect.signature(method)
            assert sig.return_annotation == f"AsyncIterator[models.{returns}]", qualname
            own = {"per_page", "concurrency"} if style == "page" else {"limit"}
            dropped = {"page", "per_page"} if style == "page" else {"limit", "ending_before_id"}
            assert set(sig.parameters) == (set(list_call.parameters) - dropped) | own, qualname
            for name in set(list_call.parameters) - dropped:
                # The list call's own parameters, with their types and defaults.
                assert sig.parameters[name] == list_call.parameters[name], (qualname, name)
            if style == "cursor":
                assert "starting_after_id" in sig.parameters


def test_time_params_are_derived_typed_and_sent_as_time() -> None:
    derived = [
        (f"{r.name}.{a.name}", p.spec["name"])
        for r, a in VIEWS
        for p in a.params
        if p.kind == "time"
    ]
    assert derived == list(TIME_PARAMS)
    client = LosantClient("t")
    for qualname, name in TIME_PARAMS:
        resource, action = qualname.split(".")
        module = importlib.import_module(f"losant_async._generated.resources.{snake(resource)}")
        (constant,) = [
            a for a in vars(module).values() if isinstance(a, Action) and a.name == action
        ]
        (param,) = [p for p in constant.params if p.name == name]
        assert (param.kind, param.location, param.pattern) == ("time", "query", None)
        kw = inspect.signature(_method(client, resource, snake(action))).parameters[name]
        if kw.default is inspect.Parameter.empty:  # required: application.archiveData
            assert kw.annotation == "TimeArg", qualname
        elif kw.default is None:
            assert kw.annotation == "TimeArg | None", qualname
        else:  # the spec's own ints, which are valid times
            assert kw.annotation == "TimeArg", qualname
            assert type(kw.default) is int and to_epoch_ms(kw.default, name) == kw.default
    assert {k for k, v in NON_TIME_DEFAULTS.items()} == {("instance.historicalSummaries", "month")}
    month = inspect.signature(client.instance.historical_summaries).parameters["month"]
    assert month.default is None


# -- the iterators against the local server ---------------------------------------------


@pytest.fixture
async def client(server: FakeLosant) -> Any:
    async with LosantClient(server.token, base_url=server.url) as c:
        yield c


def _pages_asked(server: FakeLosant, action: str, key: str) -> list[str]:
    return [e.query_dict().get(key, "") for e in server.journal.for_action(action)]


@pytest.mark.fake_losant(orgs=ORGS, sandboxes=SANDBOXES)
async def test_iterate_yields_every_org_in_order_over_many_pages(
    server: FakeLosant, client: LosantClient
) -> None:
    inst = server.ids.instance_id
    expected = await every_org_id(server, client)
    assert len(expected) == ORGS

    seen: list[str] = []
    async for org in client.instance_orgs.iterate(instance_id=inst, per_page=3, concurrency=2):
        assert_type(org, models.InstanceOrg)
        seen.append(str(org.id))
    assert seen == expected
    assert sorted(_pages_asked(server, "instanceOrgs.get", "page"), key=int) == [
        str(n) for n in range(8)
    ]
    assert set(_pages_asked(server, "instanceOrgs.get", "perPage")) == {"3"}


@pytest.mark.fake_losant(orgs=ORGS)
async def test_iterate_pages_yields_typed_pages_with_the_callers_arguments(
    server: FakeLosant, client: LosantClient
) -> None:
    pages = client.instance_orgs.iterate_pages(
        instance_id=server.ids.instance_id, sort_field="creationDate", per_page=10
    )
    got = [p async for p in pages]
    for page in got:
        assert_type(page, models.InstanceOrgs)
    assert [p.page for p in got] == [0, 1, 2]
    assert [p.count for p in got] == [10, 10, 3]
    dates = [str(o.creation_date) for p in got for o in p.items or ()]
    assert dates == sorted(dates)
    assert {e.query_dict()["sortField"] for e in server.journal} == {"creationDate"}


@pytest.mark.fake_losant(orgs=ORGS)
async def test_a_filter_argument_passes_through_to_every_page(
    server: FakeLosant, client: LosantClient
) -> None:
    inst = server.ids.instance_id
    got = [
        str(o.name)
        async for o in client.instance_orgs.iterate(
            instance_id=inst, filter_field="name", filter="*Org 1*", per_page=2
        )
    ]
    everything = await client.instance_orgs.get(instance_id=inst, per_page=1000)
    expected = [str(o.name) for o in everything.items or () if o.name and "Org 1" in o.name]
    assert got == expected and len(got) > 2  # Org 1, Org 10 ... Org 19: several pages
    asked = server.journal.for_action("instanceOrgs.get")[:-1]
    assert len(asked) > 1
    assert all(e.query_dict()["filter"] == "*Org 1*" for e in asked)


@pytest.mark.fake_losant(sandboxes=SANDBOXES)
async def test_iterate_walks_sandboxes_by_cursor(server: FakeLosant, client: LosantClient) -> None:
    inst = server.ids.instance_id
    everything = await client.instance_sandboxes.get(instance_id=inst, limit=100)
    expected = [str(b.id) for b in everything.items or ()]
    assert len(expected) == SANDBOXES
    server.journal.clear()

    seen: list[str] = []
    async for box in client.instance_sandboxes.iterate(instance_id=inst, limit=2):
        assert_type(box, models.InstanceSandbox)
        seen.append(str(box.id))
    assert seen == expected
    cursors = _pages_asked(server, "instanceSandboxes.get", "startingAfterId")
    assert cursors == ["", *expected[1:-1:2]]  # 5 pages of 2: each after the last seen
    assert set(_pages_asked(server, "instanceSandboxes.get", "limit")) == {"2"}

    # starting_after_id is the walk's start point.
    later = client.instance_sandboxes.iterate_pages(
        instance_id=inst, starting_after_id=expected[3], limit=4
    )
    pages = [p async for p in later]
    for page in pages:
        assert_type(page, models.InstanceSandboxes)
    assert [str(b.id) for p in pages for b in p.items or ()] == expected[4:]


# -- time parameters against the local server -------------------------------------------


async def _payload_counts(server: FakeLosant, client: LosantClient, **times: Any) -> None:
    await client.instance_org.payload_counts(
        instance_id=server.ids.instance_id, org_id=server.ids.org_id, **times
    )


def _sent(server: FakeLosant) -> dict[str, str]:
    return server.journal.last("instanceOrg.payloadCounts").query_dict()


async def test_aware_datetimes_dates_and_timedeltas_are_sent_as_epoch_ms(
    server: FakeLosant, client: LosantClient
) -> None:
    await _payload_counts(
        server, client, start=datetime(2026, 10, 1, tzinfo=UTC), end=date(2026, 11, 1)
    )
    assert (_sent(server)["start"], _sent(server)["end"]) == ("1790812800000", "1793491200000")
    await _payload_counts(server, client, start=timedelta(days=-7), end=timedelta(0))
    assert (_sent(server)["start"], _sent(server)["end"]) == ("-604800000", "0")
    await _payload_counts(server, client)  # no default: nothing sent
    assert not {"start", "end"} & set(_sent(server))
    await client.application.payload_counts(application_id=server.ids.application_id)
    sent = server.journal.last("application.payloadCounts").query_dict()
    assert (sent["start"], sent["end"]) == ("-2592000000", "0")  # the spec's defaults


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1761955200, "seconds were probably passed"),
        (datetime(2026, 10, 1), "naive datetime"),
        ("2026-11-01", "is not milliseconds since the epoch"),
    ],
)
async def test_bad_times_are_refused_before_the_network(
    server: FakeLosant, client: LosantClient, value: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        await _payload_counts(server, client, start=value)
    assert str(caught.value).startswith("start: ")
    assert server.journal.for_action("instanceOrg.payloadCounts") == []


async def test_a_default_of_now_sends_nothing(server: FakeLosant, client: LosantClient) -> None:
    await client.instance.historical_summaries(instance_id=server.ids.instance_id)
    assert "month" not in server.journal.last("instance.historicalSummaries").query_dict()
    await client.instance.historical_summaries(
        instance_id=server.ids.instance_id, month=date(2026, 10, 1)
    )
    assert server.journal.last().query_dict()["month"] == "1790812800000"


@pytest.mark.fake_losant(orgs=2, apps_per_org=5)
async def test_a_list_with_time_params_walks_with_times_on_every_page(
    server: FakeLosant, client: LosantClient
) -> None:
    org = server.ids.org_id
    summaries = client.applications.iterate_period_summaries(
        org_id=org, start=date(2026, 10, 1), end=datetime(2026, 11, 1, tzinfo=UTC), per_page=2
    )
    assert_type(summaries, AsyncIterator[models.PeriodSummary])
    got = [s.application_id async for s in summaries]
    assert sorted(str(i) for i in got) == sorted(server.ids.org_application_ids[org])
    asked = server.journal.for_action("applications.periodSummaries")
    assert len(asked) == 3
    assert {(e.query_dict()["start"], e.query_dict()["end"]) for e in asked} == {
        ("1790812800000", "1793491200000")
    }


def test_item_and_page_types_are_inferred_for_other_lists() -> None:
    """Checked by mypy; the iterators are made but never started (no request)."""
    client = LosantClient("t")
    a = "0" * 24
    states = client.devices.iterate_get_composite_state(application_id=a, attributes="t")
    summaries = client.instance.iterate_historical_summaries_pages(instance_id=a)
    versions = client.flows.iterate_get_by_version(application_id=a, version="v1")
    boxes = client.instance_sandboxes.iterate_pages(instance_id=a)
    assert_type(states, AsyncIterator[models.CompositeDevicesStateItem])
    assert_type(summaries, AsyncIterator[models.HistoricalSummaries])
    assert_type(versions, AsyncIterator[models.FlowVersion])
    assert_type(boxes, AsyncIterator[models.InstanceSandboxes])
