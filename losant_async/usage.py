"""Usage of a whole Losant instance as tidy rows: one value per row, streamed.

:func:`scrape_usage` walks an instance (its orgs, their applications, its sandboxes and
theirs) and fetches each entity's usage concurrently through the client, so the client's
rate limit, concurrency cap and retries apply::

    async with scrape_usage(client, instance_id=inst, start=date(2026, 10, 1),
                            end=date(2026, 11, 1)) as scrape:
        async for row in scrape:
            print(row.resource_type, row.resource_name, row.metric, row.field, row.value)
    print(scrape.summary)

Rows come as entities finish, so memory stays proportional to ``concurrency`` whatever
the size of the instance. An entity whose call fails gives an error row (its ``error``
set, the typed exception in :attr:`EntityUsage.errors`) and the scrape goes on. A scrape
can cover some orgs only (``orgs=[...]``, ``sandboxes=False``), so parts can run on many
machines; :func:`export_usage` writes CSV or JSON Lines and resumes from a checkpoint.

The API's ``end`` is inclusive: ``end=date(2026, 11, 1)`` includes the first hour (or day)
of November. ``resolution="month"`` sums the daily payload breakdown per calendar month.

Bulk endpoints stand in for per-entity calls where they give the same numbers (``bulk=False``
turns them off): ``applications.periodSummaries`` holds every application's daily payload
breakdown, device and notebook counts (the first 1,000 applications in one page, then pages
of 100, read beside the list of applications that tells whose each one is), so only their
payload counts take a call each (a split by org reads its orgs' own summaries); when the
window is whole months (``end`` the last millisecond of a month) the monthly breakdowns of
orgs and their applications come from ``instance.historicalSummaries``, read the same way.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, Required, Self, TypedDict, TypeVar, Unpack

import anyio
import msgspec
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._times import TimeArg, resolve_epoch_ms
from .errors import LosantError
from .pagination import NP, cursor_pages, items, numbered_pages

if TYPE_CHECKING:
    from ._client import LosantClient

__all__ = [
    "METRICS",
    "RESOURCE_TYPES",
    "EntityUsage",
    "ExportOptions",
    "ScrapePlan",
    "ScrapeSummary",
    "UsageRow",
    "UsageScrape",
    "export_usage",
    "scrape_usage",
    "write_csv",
    "write_jsonl",
]

Metric = Literal[
    "payload_counts", "payload_counts_breakdown", "device_counts", "notebook_minute_counts"
]
ResourceType = Literal["instance", "organization", "sandbox", "application"]
Resolution = Literal["hour", "day", "month"]

METRICS: tuple[Metric, ...] = (
    "payload_counts",
    "payload_counts_breakdown",
    "device_counts",
    "notebook_minute_counts",
)
"""Every metric: the usage actions each level of the instance has."""
RESOURCE_TYPES: tuple[ResourceType, ...] = ("instance", "organization", "sandbox", "application")
DEFAULT_INCLUDE: tuple[ResourceType, ...] = ("organization", "sandbox", "application")

T = TypeVar("T")
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
_RESOLUTION_MS = {"hour": HOUR_MS, "day": DAY_MS, "month": DAY_MS}
_ID = re.compile(r"^[A-Fa-f\d]{24}$")
PCB: Metric = "payload_counts_breakdown"
ORG_LISTINGS = 16  # orgs whose applications are listed at once
# A list's first page is 1,000 long (as Losant's own command line reads lists), so that a
# list of up to 1,000 takes one round trip, made while nothing else waits on the server;
# later pages are of the API's 100, read while the usage calls run, so that what the walk
# holds at once (up to four pages fetched together) stays bounded whatever the instance's
# size.
LIST_PAGE = 100
FIRST_PAGE = 1000
# The walk reads no list's summaries: it asks for one small count of each, not the whole
# summary, whose payload counts the server works out for every object listed.
_ORG_LIST = {"summary_include": "appCount"}
_SANDBOX_LIST = {"summary_include": "appCount"}
_APP_LIST = {"summary_include": "deviceCount"}
# The metrics an org's applications.periodSummaries gives for each of its applications:
# metric -> (the action's ``include`` name, the summary's attribute).
_SUMMARY_PARTS: dict[str, tuple[str, str]] = {
    PCB: ("payloadCounts", "payload_counts"),  # daily, billable only: the breakdown's defaults
    "device_counts": ("deviceCounts", "device_counts"),
    "notebook_minute_counts": ("notebookMinuteCounts", "notebook_minute_counts"),
}


class UsageRow(msgspec.Struct, frozen=True, gc=False):
    """One value of one metric of one entity (``date`` is None for totals over the window).

    ``field`` names the value within the metric (``"deviceState.mqtt"`` for
    payload_counts, ``"value"`` for payload_counts_breakdown, ``"created"`` for
    device_counts, ...). An error row has ``field="error"``, ``value=None`` and ``error``
    set to the failure.
    """

    resource_type: str
    resource_id: str
    resource_name: str | None
    parent_id: str | None
    metric: str
    date: datetime | None
    field: str
    value: int | float | None
    error: str | None = None
    # gc=False: a row holds only strings, numbers and a datetime, so it can be in no
    # reference cycle; untracked, the thousands a scrape makes cost the collector nothing.
    # Fields in column order, made positionally by the scrape (about half the cost of
    # keywords, per row).


COLUMNS = tuple(UsageRow.__struct_fields__)


@dataclass(frozen=True, slots=True)
class EntityUsage:
    """Every row of one entity (or, from a bulk endpoint, of one entity-month): the unit a
    checkpoint commits. ``errors`` holds the typed exceptions behind its error rows."""

    key: str
    rows: list[UsageRow]
    errors: list[LosantError] = field(default_factory=list)


@dataclass
class ScrapeSummary:
    """Live counters of a scrape: read them for a progress bar while it runs."""

    entities_found: int = 0
    """Entities (units of :class:`EntityUsage`) the walk has discovered so far."""
    entities_done: int = 0
    """Entities whose rows were handed out."""
    entities_skipped: int = 0
    """Entities a resumed scrape had already done (in ``skip``)."""
    started: float = field(default_factory=time.monotonic)
    """When the scrape began (``time.monotonic()``)."""
    finished: float | None = None
    """When it ended, once it has."""
    rows: int = 0
    """Rows handed out, error rows included."""
    errors: int = 0
    """Error rows: failed calls and listings."""
    requests: int = 0
    """API calls the scrape made (retries aside)."""
    retries: int = 0
    """Retries the client made meanwhile (any caller's on the same client)."""

    @property
    def elapsed(self) -> float:
        """Seconds since the scrape started (until it finished)."""
        return (self.finished if self.finished is not None else time.monotonic()) - self.started

    def __str__(self) -> str:
        return (
            f"{self.entities_done} entities ({self.entities_skipped} skipped), "
            f"{self.rows} rows, {self.errors} errors, {self.requests} requests, "
            f"{self.retries} retries in {self.elapsed:.1f}s"
        )


@dataclass(frozen=True, slots=True)
class _Entity:
    resource_type: str
    resource_id: str
    name: str | None
    parent_id: str | None

    @property
    def key(self) -> str:
        return f"{self.resource_type}:{self.resource_id}"

    def row(
        self,
        metric: str,
        when: datetime | None,
        name: str,
        value: int | float | None,
        error: str | None = None,
    ) -> UsageRow:
        return UsageRow(
            self.resource_type, self.resource_id, self.name, self.parent_id,
            metric, when, name, value, error,
        )  # fmt: skip


# -- flattening answers into rows ------------------------------------------------------


def _month_start(when: datetime) -> datetime:
    return datetime(when.year, when.month, 1, tzinfo=UTC)


def _rows(entity: _Entity, metric: str, answer: Any, monthly: bool) -> list[UsageRow]:
    # The scrape's innermost loop (a row per value): the entity's columns are read once.
    kind, rid = entity.resource_type, entity.resource_id
    name, parent = entity.name, entity.parent_id
    if metric == "payload_counts":  # {type: {source: count}}, with the API's names
        return [
            UsageRow(kind, rid, name, parent, metric, None, f"{payload}.{source}", count)
            for payload, sources in msgspec.to_builtins(answer).items()
            for source, count in (sources or {}).items()
        ]
    counts = answer.counts or ()
    if monthly and metric == PCB:
        months: dict[datetime, int | float] = {}
        for entry in counts:
            if entry.date is not None and entry.value is not None:
                month = _month_start(entry.date)
                months[month] = months.get(month, 0) + entry.value
        return [entity.row(metric, month, "value", value) for month, value in months.items()]
    out: list[UsageRow] = []
    entry_type: type | None = None
    fields: tuple[tuple[str, str], ...] = ()
    for entry in counts:
        if type(entry) is not entry_type:  # one type per answer: looked up once
            entry_type = type(entry)
            fields = _value_fields(entry_type)
        when = entry.date
        for attr, field_name in fields:
            value = getattr(entry, attr)
            if value is not None:
                out.append(UsageRow(kind, rid, name, parent, metric, when, field_name, value))
    return out


_VALUE_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}


def _value_fields(kind: type) -> tuple[tuple[str, str], ...]:
    """(attribute, API name) of a count entry's values, per entry type: msgspec.structs.fields
    resolves the type's annotations on every call, far too slow to make per entry."""
    found = _VALUE_FIELDS.get(kind)
    if found is None:
        fields = msgspec.structs.fields(kind)
        found = _VALUE_FIELDS[kind] = tuple(
            (info.name, info.encode_name) for info in fields if info.name != "date"
        )
    return found


def _list_pages(fetch: Callable[..., Awaitable[NP]], args: Mapping[str, Any]) -> AsyncIterator[NP]:
    """The pages of a ``page``/``perPage`` list the walk reads: the first 1,000 items, then
    pages of 100 (see ``FIRST_PAGE``)."""
    return numbered_pages(fetch, args, per_page=LIST_PAGE, first_page=FIRST_PAGE)


async def _page_lists(pages: AsyncIterator[Any]) -> AsyncIterator[list[Any]]:
    """Each page's items as a list."""
    async for page in pages:
        yield list(page.items or ())


def _read_ahead(tg: TaskGroup, walk: AsyncIterator[T]) -> MemoryObjectReceiveStream[T]:
    """``walk``'s items, read in a task of ``tg`` one item ahead of the reader."""
    send, receive = anyio.create_memory_object_stream[T](1)

    async def pump() -> None:
        async with send:
            async for item in walk:
                await send.send(item)

    tg.start_soon(pump)
    return receive


async def _until_error(walk: AsyncIterator[T]) -> AsyncIterator[T]:
    """``walk``'s items up to a failed call: what it would have given is fetched another
    way."""
    try:
        async for item in walk:
            yield item
    except LosantError:
        return


def _error_row(entity: _Entity, metric: str, exc: BaseException) -> UsageRow:
    return entity.row(metric, None, "error", None, error=f"{type(exc).__name__}: {exc}")


# -- the scrape ------------------------------------------------------------------------


def _month_aligned(ms: int) -> bool:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return ms % DAY_MS == 0 and moment.day == 1


def _months(start: int, end: int) -> list[int]:
    """Month starts (ms) of the whole months in [start, end]."""
    out: list[int] = []
    moment = datetime.fromtimestamp(start / 1000, tz=UTC)
    while True:
        ms = int(moment.timestamp() * 1000)
        nxt = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
        if int(nxt.timestamp() * 1000) - 1 > end:
            return out
        out.append(ms)
        moment = nxt


def _check_ids(name: str, values: Sequence[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise TypeError(f"{name} takes a list of IDs, not a single string")
    out = tuple(values)
    for value in out:
        if not isinstance(value, str) or not _ID.match(value):
            raise ValueError(f"{name}: {value!r} is not a Losant ID (24 hex digits)")
    return out


@dataclass(frozen=True, slots=True)
class ScrapePlan:
    """The arguments of a scrape, checked and resolved (times in epoch ms)."""

    instance_id: str
    start: int
    end: int
    metrics: tuple[Metric, ...]
    include: tuple[ResourceType, ...]
    resolution: Resolution
    concurrency: int
    orgs: tuple[str, ...] | None
    sandboxes: bool
    bulk: bool
    skip: frozenset[str]
    progress: Callable[[ScrapeSummary], object] | None

    @classmethod
    def checked(cls, given: Mapping[str, Any]) -> ScrapePlan:
        """The plan of :func:`scrape_usage`'s arguments (``client`` aside); a bad one
        raises TypeError or ValueError."""
        args = {k: v for k, v in given.items() if k not in ("client", "now")}
        instance_id = args["instance_id"]
        if not isinstance(instance_id, str) or not _ID.match(instance_id):
            raise ValueError(f"instance_id: {instance_id!r} is not a Losant ID (24 hex digits)")
        for name in ("start", "end"):
            args[name] = resolve_epoch_ms(args[name], name, now=given["now"])
        if args["start"] > args["end"]:
            raise ValueError(f"start ({args['start']}) is after end ({args['end']})")
        args["metrics"] = metrics = tuple(dict.fromkeys(args["metrics"]))
        unknown: list[str] = [m for m in metrics if m not in METRICS]
        if unknown or not metrics:
            raise ValueError(f"metrics: {unknown or 'none'}; choose from {', '.join(METRICS)}")
        if isinstance(args["include"], str):
            raise TypeError("include takes a list of resource types, not a single string")
        args["include"] = levels = tuple(dict.fromkeys(args["include"]))
        unknown = [str(t) for t in levels if t not in RESOURCE_TYPES]
        if unknown or not levels:
            choices = ", ".join(RESOURCE_TYPES)
            raise ValueError(f"include: {unknown or 'none'}; choose from {choices}")
        if args["resolution"] not in _RESOLUTION_MS:
            raise ValueError(f"resolution: {args['resolution']!r}; choose hour, day or month")
        concurrency = args["concurrency"]
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an int of at least 1, not {concurrency!r}")
        args["orgs"] = _check_ids("orgs", args["orgs"])
        sandboxes = args["sandboxes"]
        args["sandboxes"] = args["orgs"] is None if sandboxes is None else bool(sandboxes)
        args["skip"] = frozenset(args["skip"])
        return cls(**args)


class UsageScrape:
    """A running scrape: ``async with`` it, then iterate its rows (or :meth:`entities`);
    :attr:`summary` counts as it goes, :attr:`plan` holds its checked arguments. Leaving
    the ``async with`` early cancels the rest.
    """

    def __init__(self, client: LosantClient, plan: ScrapePlan) -> None:
        self.client = client
        self.plan = plan
        self.summary = ScrapeSummary()
        start, end, metrics, resolution = plan.start, plan.end, plan.metrics, plan.resolution
        self.bulk_months = (
            _months(start, end)
            if plan.bulk
            and resolution == "month"
            and PCB in metrics
            and plan.orgs is None
            and _month_aligned(start)
            and _month_aligned(end + 1)
            else []
        )
        # Metrics of org applications read from their org's period summaries (pages of
        # many applications), not one call each; hourly breakdowns are not in them.
        self.summary_metrics: tuple[Metric, ...] = tuple(
            m
            for m in metrics
            if plan.bulk
            and m in _SUMMARY_PARTS
            and not (m == PCB and (resolution == "hour" or self.bulk_months))
        )
        self._tg: TaskGroup | None = None
        self._send: MemoryObjectSendStream[EntityUsage] | None = None
        self._receive: MemoryObjectReceiveStream[EntityUsage] | None = None
        self._iterating = False
        self._retries_before = 0  # the client's retry count when the scrape began

    @property
    def window(self) -> tuple[int, int]:
        """(start, end) in epoch ms, as sent to the API (relative times resolved once)."""
        return self.plan.start, self.plan.end

    # -- lifetime ---------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._tg is not None:
            raise RuntimeError("a scrape runs once")
        self.summary = ScrapeSummary()
        self._retries_before = self.client._transport.retries
        self._send, self._receive = anyio.create_memory_object_stream[EntityUsage](
            self.plan.concurrency
        )
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._run, self._send)
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:  # (type, exception, traceback)
        assert self._tg is not None and self._receive is not None
        exc = exc_info[1]
        self._tg.cancel_scope.cancel()  # a no-op once the walk and every job are done
        try:
            if exc is not None and not isinstance(exc, anyio.get_cancelled_exc_class()):
                # The caller's own error: stop the scrape and let it through unwrapped
                # (the task group would raise it inside an exception group).
                await self._tg.__aexit__(None, None, None)
                return None
            return await self._tg.__aexit__(*exc_info)
        finally:
            self._receive.close()
            self.summary.finished = time.monotonic()
            self._count_retries()

    # -- consuming --------------------------------------------------------------------

    async def entities(self) -> AsyncIterator[EntityUsage]:
        """Each entity's rows together, as entities finish."""
        if self._receive is None:
            raise RuntimeError("use `async with scrape_usage(...) as scrape:` first")
        if self._iterating:
            raise RuntimeError("a scrape can be iterated once")
        self._iterating = True
        summary = self.summary
        receive = self._receive
        while True:
            # An entity waiting is taken at once: ``receive()`` would first yield to the
            # event loop, once per entity.
            try:
                entity = receive.receive_nowait()
            except anyio.WouldBlock:
                try:
                    entity = await receive.receive()
                except anyio.EndOfStream:
                    return
            except anyio.EndOfStream:
                return
            yield entity
            summary.entities_done += 1
            summary.rows += len(entity.rows)
            summary.errors += len(entity.errors)
            if self.plan.progress is not None:
                self.plan.progress(summary)

    async def _rows(self) -> AsyncIterator[UsageRow]:
        async for entity in self.entities():
            for row in entity.rows:
                yield row

    def __aiter__(self) -> AsyncIterator[UsageRow]:
        return self._rows()

    # -- producing --------------------------------------------------------------------

    def _counted(self, fetch: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def call(**kwargs: Any) -> Any:
            self.summary.requests += 1
            try:
                return await fetch(**kwargs)
            finally:
                self._count_retries()

        return call

    def _count_retries(self) -> None:
        # The client's retries since the scrape began (any caller's on the same client).
        self.summary.retries = self.client._transport.retries - self._retries_before

    async def _run(self, send: MemoryObjectSendStream[EntityUsage]) -> None:
        limiter = anyio.CapacityLimiter(self.plan.concurrency)
        async with send, anyio.create_task_group() as tg:

            async def submit(
                job: Callable[[], Awaitable[EntityUsage | None]], key: str | None
            ) -> None:
                """Run ``job`` once there is room; ``key`` None: a job that sends the
                units it finds itself (and counts them)."""
                if key is not None:
                    if key in self.plan.skip:
                        self.summary.entities_skipped += 1
                        return
                    self.summary.entities_found += 1
                borrower = object()
                await limiter.acquire_on_behalf_of(borrower)
                tg.start_soon(self._job, job, send, limiter, borrower)

            await self._walk(submit)

    async def _job(
        self,
        job: Callable[[], Awaitable[EntityUsage | None]],
        send: MemoryObjectSendStream[EntityUsage],
        limiter: anyio.CapacityLimiter,
        borrower: object,
    ) -> None:
        # The entity's place is given up only once its rows are in the stream: rows
        # waiting for a slow reader count against ``concurrency``, so memory stays bounded
        # however fast the walk finds entities. (The stream stays open until every job is
        # done: _run closes it after its task group, which waits for them.)
        try:
            result = await job()
            if result is not None:
                await send.send(result)
        finally:
            limiter.release_on_behalf_of(borrower)

    async def _walk(self, submit: Callable[..., Awaitable[None]]) -> None:
        inst = self.plan.instance_id
        want: set[str] = set(self.plan.include)
        if self.plan.sandboxes and "instance" in want:  # the part with the rest of the instance
            entity = _Entity("instance", inst, None, None)
            await submit(lambda: self._usage(entity, named=True), entity.key)
        for month in self.bulk_months:
            await submit(lambda month=month: self._bulk_month(month), None)
        # The parts of the instance are walked side by side: each list call waits out
        # the API's latency.
        org_ids: set[str] = set()
        box_ids: set[str] = set()
        listed = anyio.Event()  # the orgs and sandboxes are all known
        joined = self.plan.orgs is None and bool(self.summary_metrics) and "application" in want
        if joined:  # every application at once, with its summary (see _walk_apps)
            want = want - {"application"}

        async def lists() -> None:
            async with anyio.create_task_group() as tg:
                if joined or "organization" in want or "application" in want:
                    tg.start_soon(self._walk_orgs, submit, want, org_ids)
                if self.plan.sandboxes and (joined or want & {"sandbox", "application"}):
                    tg.start_soon(self._walk_sandboxes, submit, want, box_ids)
            listed.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(lists)
            if joined:
                tg.start_soon(self._walk_apps, submit, org_ids, box_ids, listed)

    async def _listing(self, what: str, parent: _Entity, walk: AsyncIterator[Any]) -> Any:
        """Items of a list walk; a failure becomes an error row of the parent's listing."""
        try:
            async for item in walk:
                yield item
        except LosantError as exc:
            await self._failed(f"list:{what}:{parent.key}", parent, f"list {what}", exc)

    async def _failed(self, key: str, entity: _Entity, what: str, exc: LosantError) -> None:
        """An error row for a failure outside an entity's own usage calls (a listing, an
        org asked for by ID), unless a resumed scrape already has it."""
        if key in self.plan.skip:
            self.summary.entities_skipped += 1
            return
        self.summary.entities_found += 1
        assert self._send is not None
        await self._send.send(EntityUsage(key, [_error_row(entity, what, exc)], [exc]))

    async def _walk_orgs(
        self, submit: Callable[..., Awaitable[None]], want: set[str], org_ids: set[str]
    ) -> None:
        """The orgs (their IDs into ``org_ids``), and their applications if wanted."""
        client = self.client
        inst = self.plan.instance_id
        if self.bulk_months and self.plan.metrics == (PCB,):
            want = want - {"organization", "application"}  # the bulk jobs cover them
            if not want:
                return
        instance = _Entity("instance", inst, None, None)
        batches: AsyncIterator[Any]  # of orgs: a page at a time, or one named org
        if self.plan.orgs is None:
            pages = _list_pages(
                self._counted(client.instance_orgs.get),
                {"instance_id": inst, **_ORG_LIST},
            )
            batches = self._listing("organizations", instance, _page_lists(pages))
        else:
            batches = self._named_orgs(self.plan.orgs)
        # Orgs' application lists are walked a few at a time, each in its own task, so
        # that one org's listing does not hold up the next (they wait for room in the
        # entity limiter, which never waits for them: no deadlock).
        listings = anyio.CapacityLimiter(ORG_LISTINGS)

        async def list_apps(org: _Entity, borrower: object) -> None:
            try:
                apps = self._org_apps(org.resource_id)
                async for app in self._listing("applications", org, apps):
                    entity = _Entity("application", str(app.id), app.name, org.resource_id)
                    summary = getattr(app, "summary", None)
                    await submit(
                        lambda e=entity, s=summary: self._usage(e, in_org=True, summary=s),
                        entity.key,
                    )
            finally:
                listings.release_on_behalf_of(borrower)

        async with anyio.create_task_group() as tg:
            async for batch in batches:
                found = [_Entity("organization", str(o.id), o.name, inst) for o in batch]
                org_ids.update(e.resource_id for e in found)
                # A batch's listings go first: each brings many entities' work, so the
                # requests in flight stay many while the orgs' own usage is fetched.
                if "application" in want:
                    for entity in found:
                        borrower = object()
                        await listings.acquire_on_behalf_of(borrower)
                        tg.start_soon(list_apps, entity, borrower)
                if "organization" in want:
                    for entity in found:
                        await submit(lambda entity=entity: self._usage(entity), entity.key)

    def _org_apps(self, org_id: str) -> AsyncIterator[Any]:
        """An org's applications: with their summaries when some metrics come from them."""
        if not self.summary_metrics:
            fetch = self._counted(self.client.applications.get)
            return items(
                _list_pages(
                    fetch,
                    {"org_id": org_id, **_APP_LIST},
                )
            )
        fetch = self._counted(self.client.applications.period_summaries)
        args = {"org_id": org_id, **self._summary_args()}
        return items(_list_pages(fetch, args))

    def _summary_args(self) -> dict[str, Any]:
        """Arguments of applications.periodSummaries: the window, the parts wanted."""
        parts = ",".join(_SUMMARY_PARTS[m][0] for m in self.summary_metrics)
        return {"start": self.plan.start, "end": self.plan.end, "include": parts}

    async def _walk_apps(
        self,
        submit: Callable[..., Awaitable[None]],
        org_ids: set[str],
        box_ids: set[str],
        listed: anyio.Event,
    ) -> None:
        """Every application the token sees, with its period summary: the list of them and
        their summaries are read side by side, a page of each at a time, both in ID order
        (so that their pages hold the same applications), from the start of the scrape.
        Those owned by the instance's orgs and sandboxes are its application entities;
        one missing from its summaries page (or every one, when that list fails) is
        fetched per entity."""
        instance = _Entity("instance", self.plan.instance_id, None, None)
        order = {"sort_field": "id", "sort_direction": "asc"}
        listing = _list_pages(
            self._counted(self.client.applications.get),
            {**order, **_APP_LIST},
        )
        fetch = self._counted(self.client.applications.period_summaries)
        args = {**order, **self._summary_args()}
        summed = _until_error(_list_pages(fetch, args))
        async with anyio.create_task_group() as tg:
            apps = _read_ahead(tg, self._listing("applications", instance, listing))
            summaries = _read_ahead(tg, summed)
            async with apps, summaries:
                await listed.wait()  # the owners are known
                async for page in apps:
                    try:
                        got = await summaries.receive()
                    except anyio.EndOfStream:
                        got = None
                    found = {x.id: x.summary for x in got.items or ()} if got else {}
                    for app in page.items or ():
                        owner = app.owner_id
                        if owner not in org_ids and owner not in box_ids:
                            continue  # not the instance's: the token user's own
                        entity = _Entity("application", str(app.id), app.name, owner)
                        summary, in_org = found.get(app.id), owner in org_ids
                        await submit(
                            lambda e=entity, s=summary, o=in_org: self._usage(
                                e, in_org=o, summary=s
                            ),
                            entity.key,
                        )
                tg.cancel_scope.cancel()  # a summaries page beyond the list's: not needed

    async def _named_orgs(self, org_ids: tuple[str, ...]) -> AsyncIterator[list[Any]]:
        """The orgs asked for, one at a time, each read for its name; one not found is an
        error row."""
        get = self._counted(self.client.instance_org.get)
        for org_id in org_ids:
            try:
                org = await get(instance_id=self.plan.instance_id, org_id=org_id)
            except LosantError as exc:
                entity = _Entity("organization", org_id, None, self.plan.instance_id)
                await self._failed(entity.key, entity, "get", exc)
            else:
                yield [org]

    async def _walk_sandboxes(
        self, submit: Callable[..., Awaitable[None]], want: set[str], box_ids: set[str]
    ) -> None:
        """The sandboxes (their IDs into ``box_ids``), and their applications if wanted."""
        client = self.client
        inst = self.plan.instance_id
        instance = _Entity("instance", inst, None, None)
        boxes = cursor_pages(
            self._counted(client.instance_sandboxes.get),
            {"instance_id": inst, **_SANDBOX_LIST},
            limit=LIST_PAGE,
        )
        async for box in self._listing("sandboxes", instance, items(boxes)):
            box_ids.add(str(box.id))
            if "sandbox" in want:
                name = box.full_name or box.email
                entity = _Entity("sandbox", str(box.id), name, inst)
                await submit(lambda entity=entity: self._usage(entity), entity.key)
        if "application" not in want or not box_ids:
            return
        # Sandbox applications are listed with every application the token sees, and
        # told apart by their owner (_walk_apps does so for every application at once).
        apps = _list_pages(
            self._counted(client.applications.get),
            _APP_LIST,
        )
        async for app in self._listing("applications", instance, items(apps)):
            if app.owner_id in box_ids:
                entity = _Entity("application", str(app.id), app.name, app.owner_id)
                await submit(lambda entity=entity: self._usage(entity), entity.key)

    def _calls(self, entity: _Entity) -> tuple[Any, dict[str, Any]]:
        client = self.client
        if entity.resource_type == "instance":
            return client.instance, {"instance_id": entity.resource_id}
        if entity.resource_type == "organization":
            return client.instance_org, {
                "instance_id": self.plan.instance_id,
                "org_id": entity.resource_id,
            }
        if entity.resource_type == "sandbox":
            args = {"instance_id": self.plan.instance_id, "instance_sandbox_id": entity.resource_id}
            return client.instance_sandbox, args
        return client.application, {"application_id": entity.resource_id}

    async def _usage(
        self,
        entity: _Entity,
        *,
        named: bool = False,
        in_org: bool = False,
        summary: Any = None,
    ) -> EntityUsage:
        resource, ids = self._calls(entity)
        rows: list[UsageRow] = []
        errors: list[LosantError] = []
        monthly = self.plan.resolution == "month"
        if named:  # the instance: its name is one more call
            try:
                got = await self._counted(resource.get)(**ids)
                entity = _Entity(entity.resource_type, entity.resource_id, got.name, None)
            except LosantError as exc:
                rows.append(_error_row(entity, "get", exc))
                errors.append(exc)
        bulk_covered = bool(self.bulk_months) and (entity.resource_type == "organization" or in_org)
        metrics = [m for m in self.plan.metrics if not (m == PCB and bulk_covered)]
        # An entity's metrics are fetched at once (the client's max_concurrency still caps
        # what is in flight); their rows keep the order of ``metrics``.
        answers: list[list[UsageRow] | LosantError | None] = [None] * len(metrics)
        if summary is not None:  # an org application: some metrics came with its listing
            for slot, metric in enumerate(metrics):
                part = (
                    getattr(summary, _SUMMARY_PARTS[metric][1], None)
                    if (metric in self.summary_metrics)
                    else None
                )
                if part is not None:
                    answers[slot] = _rows(entity, metric, part, monthly)

        async def fetch(slot: int, metric: str) -> None:
            args = dict(ids, start=self.plan.start, end=self.plan.end)
            if metric == PCB:
                args["resolution"] = _RESOLUTION_MS[self.plan.resolution]
            try:
                answer = await self._counted(getattr(resource, metric))(**args)
            except LosantError as exc:
                answers[slot] = exc
            else:
                answers[slot] = _rows(entity, metric, answer, monthly)

        missing = [slot for slot, answer in enumerate(answers) if answer is None]
        if len(missing) == 1:  # no task group for a single call
            await fetch(missing[0], metrics[missing[0]])
        elif missing:
            # asyncio's task group: aiohttp ties the client to asyncio anyway, and it starts
            # a task for far less than anyio's does (fetch keeps API errors to itself).
            async with asyncio.TaskGroup() as tg:
                for slot in missing:
                    tg.create_task(fetch(slot, metrics[slot]))
        for metric, answer in zip(metrics, answers, strict=True):
            if answer is None:
                continue
            if isinstance(answer, LosantError):
                rows.append(_error_row(entity, metric, answer))
                errors.append(answer)
            else:
                rows += answer
        return EntityUsage(entity.key, rows, errors)

    async def _bulk_month(self, month: int) -> EntityUsage | None:
        """The month's payloads of every org and org application from the instance's
        historical summaries, each entity-month sent as its own unit."""
        assert self._send is not None
        want: set[str] = set(self.plan.include)
        fetch = self._counted(self.client.instance.historical_summaries)
        args = {"instance_id": self.plan.instance_id, "month": month}
        pages = _list_pages(fetch, args)
        when = datetime.fromtimestamp(month / 1000, tz=UTC)
        instance = _Entity("instance", self.plan.instance_id, None, None)
        async for item in self._listing("historical summaries", instance, items(pages)):
            kind = item.resource_type
            if kind not in ("organization", "application") or kind not in want:
                continue
            if kind == "application" and item.owner_type != "organization":
                continue
            parent = self.plan.instance_id if kind == "organization" else item.owner_id
            entity = _Entity(kind, str(item.resource_id), item.resource_name, parent)
            key = f"{entity.key}:{PCB}:{when:%Y-%m}"
            if key in self.plan.skip:
                self.summary.entities_skipped += 1
                continue
            self.summary.entities_found += 1
            row = entity.row(PCB, when, "value", item.payload_billable_count or 0)
            await self._send.send(EntityUsage(key, [row]))
        return None


def scrape_usage(
    client: LosantClient,
    *,
    instance_id: str,
    start: TimeArg,
    end: TimeArg,
    metrics: Iterable[Metric] = METRICS,
    include: Iterable[ResourceType] = DEFAULT_INCLUDE,
    resolution: Resolution = "day",
    concurrency: int = 32,
    orgs: Sequence[str] | None = None,
    sandboxes: bool | None = None,
    bulk: bool = True,
    skip: Iterable[str] = (),
    progress: Callable[[ScrapeSummary], object] | None = None,
    now: Callable[[], datetime] | None = None,
) -> UsageScrape:
    """A usage scrape of instance ``instance_id`` over [``start``, ``end``] (see the module).

    ``start``/``end`` take what time parameters take (datetime, date, timedelta, int ms);
    relative ones are resolved once, with ``now`` (the system clock by default), so every
    entity shares one window. ``metrics`` and ``include`` choose the columns and levels;
    ``resolution`` ("hour", "day" or "month") applies to payload_counts_breakdown.
    ``concurrency`` entities are fetched at once, each with its metrics in parallel (the
    client's ``max_concurrency`` caps the requests in flight). ``orgs`` limits the scrape
    to those orgs and their applications; ``sandboxes`` (default: only when ``orgs`` is
    None) adds the sandboxes, their applications and the instance level. ``bulk`` lets
    bulk endpoints stand in for per-entity calls (see the module). ``skip`` holds keys of
    :class:`EntityUsage` already done. ``progress`` is called after each entity.
    Arguments are checked here, before any request.
    """
    return UsageScrape(client, ScrapePlan.checked(locals()))


# -- writers ---------------------------------------------------------------------------


def _iso(when: datetime | None) -> str:
    if when is None:
        return ""
    return when.isoformat().replace("+00:00", "Z")


class _Format:
    """Rows as bytes in one output format."""

    def header(self) -> bytes:
        return b""

    def encode(self, rows: Sequence[UsageRow]) -> bytes:
        raise NotImplementedError


class _Csv(_Format):
    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\n")

    def _take(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode()

    def header(self) -> bytes:
        self._writer.writerow(COLUMNS)
        return self._take()

    def encode(self, rows: Sequence[UsageRow]) -> bytes:
        for r in rows:
            self._writer.writerow(
                (
                    r.resource_type,
                    r.resource_id,
                    "" if r.resource_name is None else r.resource_name,
                    "" if r.parent_id is None else r.parent_id,
                    r.metric,
                    _iso(r.date),
                    r.field,
                    "" if r.value is None else r.value,
                    "" if r.error is None else r.error,
                )
            )
        return self._take()


class _Jsonl(_Format):
    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()

    def encode(self, rows: Sequence[UsageRow]) -> bytes:
        return self._encoder.encode_lines(rows)


Format = Literal["csv", "jsonl"]
_FORMATS: dict[str, Callable[[], _Format]] = {"csv": _Csv, "jsonl": _Jsonl}
Output = IO[bytes] | str | os.PathLike[str] | None


def _format(name: str) -> _Format:
    try:
        return _FORMATS[name]()
    except KeyError:
        raise ValueError(f"format: {name!r}; choose csv or jsonl") from None


class _Sink:
    """Where rows go: a file opened (and closed) here, a binary stream, or stdout. Local
    writes are small and buffered, so they are made in place."""

    def __init__(self, out: Output, fmt: _Format) -> None:
        self.fmt = fmt
        self._owned = isinstance(out, str | os.PathLike)
        if isinstance(out, str | os.PathLike):
            self.stream: IO[bytes] = open(out, "wb")
        elif out is None:
            self.stream = sys.stdout.buffer
        else:
            self.stream = out
        self.stream.write(fmt.header())

    def write(self, rows: Sequence[UsageRow]) -> None:
        if rows:
            self.stream.write(self.fmt.encode(rows))

    def close(self) -> None:
        self.stream.flush()
        if self._owned:
            self.stream.close()


async def _write(rows: AsyncIterator[UsageRow] | UsageScrape, out: Output, fmt: _Format) -> int:
    sink = _Sink(out, fmt)
    count = 0
    try:
        async for row in rows:
            sink.write((row,))
            count += 1
    finally:
        sink.close()
    return count


async def write_csv(rows: AsyncIterator[UsageRow] | UsageScrape, out: Output = None) -> int:
    """Write ``rows`` (an async iterator of :class:`UsageRow`, or an entered scrape) as
    CSV with a header line to ``out``: a path, a binary file, or stdout (None). Returns
    the number of rows."""
    return await _write(rows, out, _Csv())


async def write_jsonl(rows: AsyncIterator[UsageRow] | UsageScrape, out: Output = None) -> int:
    """Write ``rows`` as JSON Lines (one object per row) to ``out``: a path, a binary
    file, or stdout (None). Returns the number of rows."""
    return await _write(rows, out, _Jsonl())


# -- export with a checkpoint ----------------------------------------------------------


class _Checkpoint:
    """A JSON Lines file beside the output: a first line with the export's parameters,
    its window and where the output's header ends, then one line per entity whose rows
    are in the output, with the output's size once they were written and flushed.

    A resumed export keeps the entities whose recorded size the output still has, cuts
    the output back to the last of them (dropping rows written but never recorded, as
    after a crash between the two), and skips them: nothing recorded is fetched again,
    and no row is written twice.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def load(self) -> tuple[dict[str, Any], list[tuple[str, int]]] | None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None
        lines = self.path.read_bytes().split(b"\n")
        try:
            head = msgspec.json.decode(lines[0])
        except msgspec.DecodeError:
            head = None
        if not isinstance(head, dict) or head.get("checkpoint") != 1:
            raise ValueError(f"{self.path} is not a usage checkpoint")
        commits: list[tuple[str, int]] = []
        for line in lines[1:]:
            if not line:
                continue
            try:
                entry = msgspec.json.decode(line)
            except msgspec.DecodeError:
                break  # a line cut short by a crash: nothing after it was recorded
            commits.append((str(entry["key"]), int(entry["offset"])))
        return head, commits

    def start(self, head: dict[str, Any], commits: list[tuple[str, int]]) -> None:
        """Replace the file with these lines (atomically), then append from there."""
        temp = self.path.with_name(self.path.name + ".tmp")
        with open(temp, "wb") as f:
            f.write(msgspec.json.encode(head) + b"\n")
            for key, offset in commits:
                f.write(msgspec.json.encode({"key": key, "offset": offset}) + b"\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, self.path)
        self._file = open(self.path, "ab")

    def commit(self, key: str, offset: int) -> None:
        assert self._file is not None
        self._file.write(msgspec.json.encode({"key": key, "offset": offset}) + b"\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


class _Export:
    """The output file and its checkpoint, opened fresh or for a resume."""

    def __init__(self, path: Path, fmt: _Format, store: _Checkpoint | None) -> None:
        self.path = path
        self.fmt = fmt
        self.store = store
        self.stream: IO[bytes] | None = None
        self._head: dict[str, Any] = {}

    def resumable(
        self, params: dict[str, Any]
    ) -> tuple[tuple[int, int], list[tuple[str, int]], int] | None:
        """(window, kept commits, size to keep) of an export to resume, if there is one."""
        loaded = self.store.load() if self.store is not None else None
        if loaded is None or not self.path.exists():
            return None
        head, commits = loaded
        if head.get("params") != params:
            raise ValueError(
                f"the checkpoint records another export ({head.get('params')}); "
                "give the same arguments, or a new checkpoint file"
            )
        size = self.path.stat().st_size
        # Offsets grow; any past the output's end were recorded but not kept on disk.
        kept = [(k, o) for k, o in commits if o <= size]
        keep_to = kept[-1][1] if kept else int(head["header_end"])
        start, end = head["window"]
        self._head = head
        return (int(start), int(end)), kept, keep_to

    def open_resumed(self, kept: list[tuple[str, int]], keep_to: int) -> None:
        stream = open(self.path, "r+b")
        stream.truncate(keep_to)
        stream.seek(keep_to)
        self.stream = stream
        if self.store is not None:
            self.store.start(self._head, kept)

    def open_fresh(self, params: dict[str, Any], window: tuple[int, int]) -> None:
        stream = open(self.path, "wb")
        stream.write(self.fmt.header())
        stream.flush()
        self.stream = stream
        if self.store is not None:
            head = {
                "checkpoint": 1,
                "params": params,
                "window": list(window),
                "header_end": stream.tell(),
            }
            self.store.start(head, [])

    def write(self, entity: EntityUsage) -> None:
        assert self.stream is not None
        if entity.rows:
            self.stream.write(self.fmt.encode(entity.rows))
            self.stream.flush()  # before the commit: a commit never runs ahead of its rows
        if self.store is not None:
            self.store.commit(entity.key, self.stream.tell())

    def close(self) -> None:
        if self.stream is not None:
            self.stream.flush()
            os.fsync(self.stream.fileno())
            self.stream.close()
        if self.store is not None:
            self.store.close()


def _epoch_clock() -> datetime:
    """A clock at the epoch: relative times resolve to 0 or less, absolute ones stay."""
    return datetime(1970, 1, 1, tzinfo=UTC)


class ExportOptions(TypedDict, total=False):
    """The arguments :func:`export_usage` passes on to :func:`scrape_usage`: all of its
    own but ``skip``, which a checkpoint sets, with the same defaults."""

    instance_id: Required[str]
    start: Required[TimeArg]
    end: Required[TimeArg]
    metrics: Iterable[Metric]
    include: Iterable[ResourceType]
    resolution: Resolution
    concurrency: int
    orgs: Sequence[str] | None
    sandboxes: bool | None
    bulk: bool
    progress: Callable[[ScrapeSummary], object] | None
    now: Callable[[], datetime] | None


async def export_usage(
    client: LosantClient,
    out: str | os.PathLike[str] | None,
    *,
    format: Format = "csv",
    checkpoint: str | os.PathLike[str] | None = None,
    **options: Unpack[ExportOptions],
) -> ScrapeSummary:
    """Scrape usage into ``out`` (a path; None: stdout) as CSV or JSON Lines, each
    entity's rows written together. ``options`` are :func:`scrape_usage`'s:
    ``instance_id``, ``start`` and ``end`` (required), ``metrics``, ``include``,
    ``resolution``, ``concurrency``, ``orgs``, ``sandboxes``, ``bulk``, ``progress`` and
    ``now`` (see :class:`ExportOptions`).

    With ``checkpoint`` (a path), each entity is recorded once its rows are flushed, and
    an export started again with the same arguments resumes: the output keeps what was
    recorded, nothing recorded is fetched again, no row is written twice. A resumed
    export keeps the window of the first run (relative ``start``/``end`` included).
    """
    fmt = _format(format)
    if checkpoint is not None and out is None:
        raise ValueError("a checkpoint needs an output file: stdout cannot be resumed")
    scrape = scrape_usage(client, **options)
    if out is None:
        async with scrape:
            await _write(scrape, None, fmt)
        return scrape.summary

    plan = scrape.plan
    params = {
        "instance_id": plan.instance_id,
        "metrics": list(plan.metrics),
        "include": list(plan.include),
        "resolution": plan.resolution,
        "orgs": None if plan.orgs is None else list(plan.orgs),
        "sandboxes": plan.sandboxes,
        "bulk": plan.bulk,
        "format": format,
    }
    store = _Checkpoint(Path(checkpoint)) if checkpoint is not None else None
    export = _Export(Path(out), fmt, store)
    resume = export.resumable(params)
    if resume is not None:
        (first, last), kept, keep_to = resume
        given = {"start": options["start"], "end": options["end"]}
        for name, stored in (("start", first), ("end", last)):
            # An absolute time must match the first run's; a relative one takes it.
            mine = resolve_epoch_ms(given[name], name, now=_epoch_clock)
            if mine > 0 and mine != stored:
                raise ValueError(f"{name} ({mine}) differs from the checkpoint's ({stored})")
        options["start"], options["end"] = first, last
        scrape = scrape_usage(client, skip=[key for key, _ in kept], **options)
        export.open_resumed(kept, keep_to)
    else:
        export.open_fresh(params, scrape.window)
    try:
        async with scrape:
            async for entity in scrape.entities():
                export.write(entity)
    finally:
        export.close()
    return scrape.summary
