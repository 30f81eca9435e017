"""The usage scrape against the local Losant server: rows equal the server's own numbers,
computed here from its stored state (not through the client), row for row; also under
injected 503s and dropped connections, split by org, through the bulk endpoint, and
resumed from a checkpoint after an interruption."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, NamedTuple

import anyio
import msgspec
import pytest

from losant_async import LosantClient, NotFoundError, RetryPolicy
from losant_async.testing import FakeLosant, Latency, ResetAfter, ResetBefore, Status
from losant_async.testing._state import DAY, HOUR
from losant_async.usage import (
    COLUMNS,
    METRICS,
    ORG_LISTINGS,
    RESOURCE_TYPES,
    EntityUsage,
    ScrapeSummary,
    UsageRow,
    export_usage,
    scrape_usage,
    write_csv,
    write_jsonl,
)
from tests.conftest import exhaust
from tests.usage_truth import END, START, Key, dt, keyed, truth

pytestmark = pytest.mark.anyio


def patient() -> RetryPolicy:
    return RetryPolicy(max_retries=25, backoff_base=0.001, backoff_max=0.01, budget=None)


@pytest.fixture
async def server() -> AsyncIterator[FakeLosant]:
    async with FakeLosant(orgs=4, sandboxes=2, apps_per_org=2) as srv:
        yield srv


@pytest.fixture
async def client(server: FakeLosant) -> AsyncIterator[LosantClient]:
    async with LosantClient(server.token, base_url=server.url, retry=patient()) as c:
        yield c


async def scrape_all(client: LosantClient, **options: Any) -> tuple[list[UsageRow], ScrapeSummary]:
    args: dict[str, Any] = {"start": START, "end": END} | options
    async with scrape_usage(client, **args) as scrape:
        rows = [row async for row in scrape]
    return rows, scrape.summary


# -- rows against the truth -------------------------------------------------------------


async def test_rows_equal_the_servers_numbers_row_for_row(
    server: FakeLosant, client: LosantClient
) -> None:
    inst = server.ids.instance_id
    rows, summary = await scrape_all(client, instance_id=inst, include=RESOURCE_TYPES)
    expected = truth(server, include=RESOURCE_TYPES)
    assert keyed(rows) == expected
    assert set(keyed(rows).values()) == {1}  # no row twice
    # 1 instance + 4 orgs + 2 sandboxes + 8 + 2 applications.
    assert summary.entities_found == summary.entities_done == 17
    assert summary.rows == len(rows) and summary.errors == 0 and summary.retries == 0
    assert summary.requests == len(server.journal)
    assert summary.finished is not None and summary.elapsed >= 0
    metrics = {r.metric for r in rows}
    assert metrics == set(METRICS)
    assert {r.resource_type for r in rows} == set(RESOURCE_TYPES)
    assert all(e.status == 200 for e in server.journal)


async def test_by_hour_some_metrics_some_levels(server: FakeLosant, client: LosantClient) -> None:
    options: dict[str, Any] = {
        "metrics": ("payload_counts_breakdown", "device_counts"),
        "include": ("application",),
        "resolution": "hour",
    }
    rows, _ = await scrape_all(client, instance_id=server.ids.instance_id, **options)
    assert keyed(rows) == truth(server, **options)
    assert {r.resource_type for r in rows} == {"application"}
    hourly = [e for e in server.journal if e.action == "application.payloadCountsBreakdown"]
    assert {e.query_dict()["resolution"] for e in hourly} == {"3600000"}
    # Only what was asked for was fetched.
    assert not server.journal.for_action("application.payloadCounts")
    assert not server.journal.for_action("instanceOrg.deviceCounts")


async def test_dates_and_relative_windows(server: FakeLosant, client: LosantClient) -> None:
    """A relative window is resolved once, with the clock given."""
    fixed = dt(END)
    rows, _ = await scrape_all(
        client,
        instance_id=server.ids.instance_id,
        start=timedelta(days=-3, hours=5),
        end=timedelta(0),
        now=lambda: fixed,
        include=("organization",),
    )
    assert keyed(rows) == truth(server, include=("organization",))
    sent = {
        (e.query_dict()["start"], e.query_dict()["end"])
        for e in server.journal
        if "start" in e.query_dict()
    }
    assert sent == {(str(START), str(END))}


async def test_with_injected_503s_and_dropped_connections(
    server: FakeLosant, client: LosantClient
) -> None:
    status = server.faults.add(Status(status=503), rate=0.1)
    server.faults.add(ResetBefore(), rate=0.05)
    server.faults.add(ResetAfter(), rate=0.05)
    rows, summary = await scrape_all(client, instance_id=server.ids.instance_id)
    assert keyed(rows) == truth(server)
    injected = sum(rule.hits for rule in server.faults.rules)
    assert status.hits > 0 and injected > status.hits
    assert summary.errors == 0
    # Each 503 cost the client one retry; aiohttp itself re-sends some requests whose
    # reused connection was dropped, which the client does not see.
    assert status.hits <= summary.retries <= injected
    assert len(server.journal) == summary.requests + injected


async def test_a_failing_entity_gives_an_error_row_and_the_scrape_goes_on(
    server: FakeLosant, client: LosantClient
) -> None:
    server.faults.add(Status(status=404), action="application.payloadCounts", times=1)
    async with scrape_usage(
        client, instance_id=server.ids.instance_id, start=START, end=END
    ) as scrape:
        results: list[EntityUsage] = [e async for e in scrape.entities()]
    (failed,) = [e for e in results if e.errors]
    (error,) = failed.errors
    assert isinstance(error, NotFoundError) and error.status == 404
    (error_row,) = [r for r in failed.rows if r.error is not None]
    assert error_row.metric == "payload_counts" and error_row.field == "error"
    assert error_row.value is None
    assert str(error_row.error).startswith("NotFoundError: GET ")
    app_id = error_row.resource_id
    # Everything else arrived: the truth less that application's payload counts.
    expected = truth(server)
    for key in list(expected):
        if key[1] == app_id and key[4] == "payload_counts":
            del expected[key]
    rows = [r for e in results for r in e.rows if r.error is None]
    assert keyed(rows) == expected
    assert scrape.summary.errors == 1


async def test_split_by_org_parts_add_up_to_the_whole(
    server: FakeLosant, client: LosantClient
) -> None:
    inst = server.ids.instance_id
    orgs = server.ids.org_ids
    parts: list[dict[str, Any]] = [
        {"orgs": orgs[:1]},
        {"orgs": orgs[1:]},
        {"orgs": [], "sandboxes": True},  # the sandboxes and the instance level
    ]
    every: list[UsageRow] = []
    for part in parts:
        rows, _ = await scrape_all(client, instance_id=inst, include=RESOURCE_TYPES, **part)
        every += rows
    first, _ = await scrape_all(client, instance_id=inst, orgs=orgs[:1])
    assert keyed(first) == truth(server, orgs=orgs[:1], rest=False)
    assert keyed(every) == truth(server, include=RESOURCE_TYPES)


async def test_an_unknown_org_in_a_split_is_an_error_row(
    server: FakeLosant, client: LosantClient
) -> None:
    missing = "0" * 24
    rows, summary = await scrape_all(
        client, instance_id=server.ids.instance_id, orgs=[missing, server.ids.org_id]
    )
    errors = [r for r in rows if r.error]
    assert [(r.resource_id, r.metric) for r in errors] == [(missing, "get")]
    assert "NotFoundError" in str(errors[0].error)
    assert keyed(r for r in rows if not r.error) == truth(
        server, orgs=[server.ids.org_id], rest=False
    )
    assert summary.errors == 1


@pytest.mark.parametrize(
    ("action", "lost"),
    [
        ("instanceOrgs.get", "organizations"),  # and so which applications are theirs
        ("applications.get", "applications"),
    ],
)
async def test_a_failing_list_gives_an_error_row_and_the_rest_goes_on(
    server: FakeLosant, client: LosantClient, action: str, lost: str
) -> None:
    server.faults.add(Status(status=403), action=action, times=1)
    rows, summary = await scrape_all(client, instance_id=server.ids.instance_id)
    (error,) = [r for r in rows if r.error]
    assert (error.resource_type, error.metric) == ("instance", f"list {lost}")
    assert str(error.error).startswith("PermissionDeniedError: GET ")
    org_ids = set(server.state.orgs)
    expected = truth(server)
    for key in list(expected):
        kind, parent = key[0], key[3]
        if lost == "applications" and kind == "application":
            del expected[key]
        elif lost == "organizations" and (kind == "organization" or parent in org_ids):
            del expected[key]
    assert keyed(r for r in rows if not r.error) == expected
    assert summary.errors == 1


async def test_a_failing_period_summaries_page_is_made_up_by_per_entity_calls(
    server: FakeLosant, client: LosantClient
) -> None:
    server.faults.add(Status(status=403), action="applications.periodSummaries", times=1)
    rows, summary = await scrape_all(client, instance_id=server.ids.instance_id)
    assert keyed(rows) == truth(server)
    assert summary.errors == 0
    assert len(server.journal.for_action("applications.periodSummaries")) == 1  # refused
    instance_apps = {key[1] for key in truth(server) if key[0] == "application"}
    assert len(server.journal.for_action("application.deviceCounts")) == len(instance_apps)


async def test_memory_is_bounded_by_concurrency(server: FakeLosant, client: LosantClient) -> None:
    """At most ``concurrency`` entities are being fetched at once, each with its four
    metrics, besides the lists being walked (the orgs, the applications of up to
    ORG_LISTINGS orgs, and beside them the sandboxes and every application); progress is
    reported after each entity."""
    server.faults.add(Latency(delay=0.002))
    seen: list[int] = []
    rows, summary = await scrape_all(
        client,
        instance_id=server.ids.instance_id,
        concurrency=2,
        progress=lambda s: seen.append(s.entities_done),
    )
    assert keyed(rows) == truth(server)
    assert server.stats.peak_in_flight <= 2 * 4 + 1 + ORG_LISTINGS + 2
    assert seen == list(range(1, summary.entities_done + 1))


async def test_a_slow_reader_holds_the_scrape_back(
    server: FakeLosant, client: LosantClient
) -> None:
    """Rows waiting to be read count against ``concurrency``: while the reader dawdles,
    no more than ``concurrency`` entities are fetched beyond the ``concurrency`` waiting
    in the stream."""
    concurrency = 2

    def usage_requests() -> int:
        return sum(1 for e in server.journal if e.action and "Counts" in e.action)

    async with scrape_usage(
        client,
        instance_id=server.ids.instance_id,
        start=START,
        end=END,
        concurrency=concurrency,
    ) as scrape:
        k = 0
        async for _entity in scrape.entities():
            k += 1
            await anyio.sleep(0.01)  # a slow writer
            assert usage_requests() <= 4 * (k + 2 * concurrency)
    assert k == 16


async def test_leaving_early_stops_the_scrape(server: FakeLosant, client: LosantClient) -> None:
    async with scrape_usage(
        client, instance_id=server.ids.instance_id, start=START, end=END, concurrency=1
    ) as scrape:
        async for _row in scrape:
            break
    assert scrape.summary.entities_done == 0
    assert scrape.summary.finished is not None
    done = len(server.journal)
    # Nothing runs on after the block: the next scrape's requests are all that arrive.
    rows, summary = await scrape_all(
        client, instance_id=server.ids.instance_id, include=("sandbox",)
    )
    assert len(server.journal) - done == summary.requests
    assert keyed(rows) == truth(server, include=("sandbox",))
    with pytest.raises(RuntimeError, match="runs once"):
        async with scrape:
            pass


async def test_arguments_are_checked_before_any_request(
    server: FakeLosant, client: LosantClient
) -> None:
    inst = server.ids.instance_id
    bad: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"instance_id": "nope"}, ValueError, "instance_id"),
        ({"start": END, "end": START}, ValueError, "is after end"),
        ({"start": 1_700_000_000}, ValueError, "seconds were probably passed"),
        ({"start": datetime(2026, 1, 1)}, ValueError, "naive datetime"),
        ({"end": "2026-11-01"}, ValueError, "not milliseconds"),
        ({"metrics": ["payload"]}, ValueError, "metrics"),
        ({"include": "application"}, TypeError, "include takes a list"),
        ({"include": ["apps"]}, ValueError, "include"),
        ({"resolution": "week"}, ValueError, "resolution"),
        ({"concurrency": 0}, ValueError, "concurrency"),
        ({"orgs": "abc"}, TypeError, "orgs takes a list"),
        ({"orgs": ["abc"]}, ValueError, "not a Losant ID"),
    ]
    for change, error, message in bad:
        args: dict[str, Any] = {"instance_id": inst, "start": START, "end": END} | change
        with pytest.raises(error, match=message):
            scrape_usage(client, **args)
    with pytest.raises(ValueError, match="format"):
        await export_usage(client, None, instance_id=inst, start=START, end=END, format="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stdout cannot be resumed"):
        await export_usage(client, None, instance_id=inst, start=START, end=END, checkpoint="x")
    with pytest.raises(RuntimeError, match="async with"):  # rows need the async with
        await exhaust(scrape_usage(client, instance_id=inst, start=START, end=END))
    assert len(server.journal) == 0


# -- the bulk endpoint ------------------------------------------------------------------


def last_month() -> tuple[int, int]:
    """The previous calendar month, in ms (end inclusive, as the API takes it)."""
    today = datetime.now(UTC).date().replace(day=1)
    first = (today - timedelta(days=1)).replace(day=1)

    def ms(d: date) -> int:
        return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000)

    return ms(first), ms(today) - 1


class Scraped(NamedTuple):
    rows: list[UsageRow]
    summary: ScrapeSummary
    calls: Counter[str | None]  # requests per action


async def bulk_and_single(orgs: int, **options: Any) -> tuple[FakeLosant, Scraped, Scraped]:
    """One scrape with the bulk endpoints and one without (``bulk=False``), of a fresh
    instance of ``orgs`` orgs of 3 applications and 2 sandboxes, 70 days of history."""
    runs: list[Scraped] = []
    async with FakeLosant(orgs=orgs, sandboxes=2, apps_per_org=3, days=70) as server:
        async with LosantClient(server.token, base_url=server.url) as client:
            for bulk in (True, False):
                server.journal.clear()
                rows, summary = await scrape_all(
                    client, instance_id=server.ids.instance_id, bulk=bulk, **options
                )
                runs.append(Scraped(rows, summary, Counter(e.action for e in server.journal)))
    return server, runs[0], runs[1]


async def test_monthly_numbers_from_the_bulk_endpoint_equal_per_entity_calls() -> None:
    start, end = last_month()
    options: dict[str, Any] = {
        "start": start,
        "end": end,
        "metrics": ("payload_counts_breakdown",),
        "resolution": "month",
    }
    (
        server,
        (bulk, bulk_summary, bulk_calls),
        (single, single_summary, single_calls),
    ) = await bulk_and_single(5, **options)
    assert keyed(bulk) == keyed(single)
    assert keyed(bulk) == truth(
        server, start=start, end=end, metrics=options["metrics"], resolution="month"
    )
    assert {r.date for r in bulk} == {dt(start)}
    # Orgs and their applications came from one page of historical summaries.
    assert bulk_calls["instance.historicalSummaries"] == 1
    assert bulk_calls["instanceOrg.payloadCountsBreakdown"] == 0
    assert bulk_calls["application.payloadCountsBreakdown"] == 2  # the sandboxes' own
    assert single_calls["instanceOrg.payloadCountsBreakdown"] == 5
    assert single_calls["application.payloadCountsBreakdown"] == 5 * 3 + 2
    assert bulk_summary.requests < single_summary.requests
    assert bulk_summary.entities_found == bulk_summary.entities_done == 5 + 5 * 3 + 2 + 2


async def test_a_window_of_part_of_a_month_is_not_taken_from_the_bulk_endpoint(
    server: FakeLosant, client: LosantClient
) -> None:
    rows, _ = await scrape_all(
        client,
        instance_id=server.ids.instance_id,
        metrics=("payload_counts_breakdown",),
        resolution="month",
    )
    assert keyed(rows) == truth(server, metrics=("payload_counts_breakdown",), resolution="month")
    assert not server.journal.for_action("instance.historicalSummaries")


PER_APP = ("application.payloadCountsBreakdown", "application.deviceCounts",
           "application.notebookMinuteCounts")  # fmt: skip


@pytest.mark.parametrize(
    ("resolution", "start_end"),
    [("day", (START, END)), ("month", (START, END)), ("hour", (START, END)), ("month", None)],
)
async def test_applications_from_period_summaries_equal_per_entity_calls(
    resolution: str, start_end: tuple[int, int] | None
) -> None:
    """applications.periodSummaries (a page per 100 applications, read beside the list of
    every application) gives the same rows as each application's own calls, at every
    resolution; hourly breakdowns are not in it, and are still fetched per application
    (as are monthly ones over whole months, of sandbox applications: those of orgs come
    from the historical summaries then)."""
    start, end = start_end or last_month()  # also a whole month, beside historical summaries
    (
        server,
        (bulk, bulk_summary, bulk_calls),
        (single, single_summary, single_calls),
    ) = await bulk_and_single(3, start=start, end=end, resolution=resolution)
    assert not any(r.error for r in bulk)
    assert keyed(bulk) == keyed(single)
    assert keyed(bulk) == truth(server, start=start, end=end, resolution=resolution)
    org_apps, box_apps = 3 * 3, sum(len(b.app_ids) for b in server.state.sandboxes.values())
    assert box_apps > 0
    assert bulk_calls["applications.periodSummaries"] == 1  # one page for every application
    assert single_calls["applications.periodSummaries"] == 0
    for action in PER_APP:
        per_entity = org_apps + box_apps
        assert single_calls[action] == per_entity
        breakdown = action == "application.payloadCountsBreakdown"
        if breakdown and resolution == "hour":
            assert bulk_calls[action] == per_entity
        elif breakdown and start_end is None:  # whole months
            assert bulk_calls[action] == box_apps
        else:
            assert bulk_calls[action] == 0
    assert bulk_calls["application.payloadCounts"] == org_apps + box_apps
    assert bulk_summary.requests < single_summary.requests
    assert bulk_summary.rows == single_summary.rows


# -- writers ----------------------------------------------------------------------------


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def as_csv(row: UsageRow) -> dict[str, str]:
    values = msgspec.structs.asdict(row)
    out = {k: "" if v is None else str(v) for k, v in values.items()}
    if row.date is not None:
        out["date"] = row.date.isoformat().replace("+00:00", "Z")
    return out


async def test_csv_and_json_lines_writers(
    server: FakeLosant,
    client: LosantClient,
    tmp_path: Path,
    capfdbinary: pytest.CaptureFixture[bytes],
) -> None:
    rows, _ = await scrape_all(client, instance_id=server.ids.instance_id, include=("sandbox",))
    assert rows

    async def replay() -> AsyncIterator[UsageRow]:
        for row in rows:
            yield row

    buffer = io.BytesIO()
    assert await write_csv(replay(), buffer) == len(rows)
    parsed = read_csv(buffer.getvalue())
    assert tuple(parsed[0]) == COLUMNS
    assert parsed == [as_csv(r) for r in rows]

    path = tmp_path / "rows.jsonl"
    assert await write_jsonl(replay(), path) == len(rows)
    decoded = msgspec.json.Decoder(UsageRow)
    assert [decoded.decode(line) for line in path.read_bytes().splitlines()] == rows

    capfdbinary.readouterr()
    await write_jsonl(replay())  # stdout
    out = capfdbinary.readouterr().out
    assert [decoded.decode(line) for line in out.splitlines()] == rows

    # Straight from a running scrape.
    async with scrape_usage(
        client, instance_id=server.ids.instance_id, start=START, end=END, include=("sandbox",)
    ) as scrape:
        await write_csv(scrape, tmp_path / "rows.csv")
    assert read_csv((tmp_path / "rows.csv").read_bytes()) == [as_csv(r) for r in rows]


async def test_rows_are_written_as_entities_finish(
    server: FakeLosant, client: LosantClient
) -> None:
    """Each write happens while the scrape runs: nothing waits for the whole scrape."""
    seen: list[int] = []

    class Recording(io.BytesIO):
        def write(self, data: Any) -> int:
            seen.append(scrape.summary.entities_done)
            return super().write(data)

    out = Recording()
    async with scrape_usage(
        client, instance_id=server.ids.instance_id, start=START, end=END, concurrency=2
    ) as scrape:
        await write_jsonl(scrape, out)
    assert seen[0] == 0  # the header (none for JSON Lines) and the first entity's rows
    assert sorted(seen) == seen and seen[-1] == scrape.summary.entities_done - 1
    assert len(set(seen)) == scrape.summary.entities_done == 16


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_export_to_stdout(
    server: FakeLosant,
    client: LosantClient,
    capfdbinary: pytest.CaptureFixture[bytes],
    fmt: Literal["csv", "jsonl"],
) -> None:
    capfdbinary.readouterr()
    summary = await export_usage(
        client, None, instance_id=server.ids.instance_id, start=START, end=END, format=fmt
    )
    data = capfdbinary.readouterr().out
    if fmt == "jsonl":
        decoder = msgspec.json.Decoder(UsageRow)
        got = Counter(msgspec.structs.astuple(decoder.decode(x)) for x in data.splitlines())
    else:
        assert data.count(b"resource_type,") == 1
        got = Counter(tuple(r.values()) for r in read_csv(data))
    assert got == expected_rows(server, fmt)
    assert summary.rows == sum(got.values())


# -- export, interrupted and resumed ----------------------------------------------------


def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


class Interrupted(Exception):
    pass


def stop_after(n: int) -> Any:
    def progress(summary: ScrapeSummary) -> None:
        if summary.entities_done == n:
            raise Interrupted

    return progress


def read_rows(path: Path, fmt: str) -> list[Key]:
    data = path.read_bytes()
    if fmt == "jsonl":
        decoder = msgspec.json.Decoder(UsageRow)
        return [msgspec.structs.astuple(decoder.decode(line)) for line in data.splitlines()]
    return [tuple(r.values()) for r in read_csv(data)]


def expected_rows(server: FakeLosant, fmt: str) -> Counter[Key]:
    rows = [UsageRow(**dict(zip(COLUMNS, key, strict=True))) for key in truth(server).elements()]
    if fmt == "jsonl":
        return keyed(rows)
    return Counter(tuple(as_csv(r).values()) for r in rows)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_an_interrupted_export_resumed_gives_every_row_once(
    server: FakeLosant, client: LosantClient, tmp_path: Path, fmt: str
) -> None:
    out, checkpoint = tmp_path / f"usage.{fmt}", tmp_path / "usage.checkpoint"
    args: dict[str, Any] = {
        "instance_id": server.ids.instance_id,
        "start": START,
        "end": END,
        "format": fmt,
        "checkpoint": checkpoint,
        "concurrency": 3,
    }
    with pytest.raises(Interrupted):
        await export_usage(client, out, progress=stop_after(5), **args)
    first_requests = len(server.journal)
    recorded = checkpoint.read_bytes().splitlines()
    assert len(recorded) == 1 + 5  # the header line, then the five entities recorded
    # A crash between writing an entity's rows and recording it: rows past the last
    # record, and a record cut short.
    kept_rows = read_rows(out, fmt)
    append(out, out.read_bytes()[-300:])
    append(checkpoint, b'{"key": "applic')

    summary = await export_usage(client, out, **args)
    assert summary.entities_skipped == 5
    assert summary.entities_done == 16 - 5  # 4 orgs, 2 sandboxes, 10 applications
    final = read_rows(out, fmt)
    assert final[: len(kept_rows)] == kept_rows
    assert Counter(final) == expected_rows(server, fmt)
    assert set(Counter(final).values()) == {1}
    if fmt == "csv":
        assert out.read_bytes().count(b"resource_type,") == 1  # one header
    # Nothing recorded was fetched again (entities in flight at the interruption were).
    done_ids = {msgspec.json.decode(line)["key"].split(":")[1] for line in recorded[1:]}
    usage_paths = [
        e.path
        for e in server.journal[first_requests:]
        if e.action and e.action.split(".")[1].endswith(("Counts", "CountsBreakdown"))
    ]
    # Each entity not recorded was fetched once more (an org's applications' other
    # metrics come with their org's period summaries).
    assert sum(p.endswith("/payloadCounts") for p in usage_paths) == 16 - 5
    assert not [p for p in usage_paths if any(i in p for i in done_ids)]

    # Resumed once more, everything is already there: nothing is fetched but the lists.
    again = await export_usage(client, out, **args)
    assert again.entities_done == 0 and again.entities_skipped == 16
    assert Counter(read_rows(out, fmt)) == expected_rows(server, fmt)


async def test_resume_with_other_arguments_is_refused(
    server: FakeLosant, client: LosantClient, tmp_path: Path
) -> None:
    out, checkpoint = tmp_path / "usage.csv", tmp_path / "usage.checkpoint"
    args: dict[str, Any] = {
        "instance_id": server.ids.instance_id,
        "start": timedelta(days=-3, hours=5),
        "end": timedelta(0),
        "checkpoint": checkpoint,
        "include": ("sandbox",),
        "now": lambda: dt(END),
    }
    await export_usage(client, out, **args)
    with pytest.raises(ValueError, match="records another export"):
        await export_usage(client, out, **(args | {"include": ("organization",)}))
    with pytest.raises(ValueError, match="differs from the checkpoint"):
        await export_usage(client, out, **(args | {"start": START + HOUR}))
    # Relative times take the first run's window, whatever the clock says now.
    later = await export_usage(client, out, **(args | {"now": lambda: dt(END + DAY)}))
    assert later.entities_skipped == 2 and later.entities_done == 0
    (checkpoint_bad := tmp_path / "bad").write_bytes(b"hello\n")
    with pytest.raises(ValueError, match="not a usage checkpoint"):
        await export_usage(client, out, **(args | {"checkpoint": checkpoint_bad}))
