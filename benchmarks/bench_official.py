"""The usage scrape against Losant's official synchronous client, ``losant-rest``.

The same scrape, against one local Losant server in a child process answering each
request after 20 ms (an API across a network): the same entities (every org, sandbox and
application of the instance, found by walking its lists), the same metrics (the four usage
actions, daily, over the last seven days) and the same rows out (type, id, name, parent,
metric, date, field, value; dates parsed into datetimes on both sides), four ways:

- ``losant-rest``, one call after another, as its documentation shows it used: a list
  walk, then one call per entity and metric;
- ``losant-rest`` from 16 threads (``concurrent.futures``), one task per entity and metric;
- ``scrape_usage`` of losant_async with its defaults (32 entities at a time, up to 32
  requests in flight, and the bulk endpoint where it gives the same numbers:
  ``applications.periodSummaries`` holds the applications' breakdown, device and notebook
  counts, up to 1,000 applications in one page, so those take one call, not three per application:
  on the small instance 114 requests against 285);
- ``scrape_usage(bulk=False)``: the same calls losant-rest makes, for reference.

Two instances: the goal is judged on 40 orgs of 5 applications each and 10 sandboxes (the
shape of the instance the scrape's ground-truth test walks, at one fifth of its size);
10 orgs and 4 sandboxes are shown too, where the first round trip (the lists that every
later call waits for) weighs most.

Each way's time is its whole scrape: the walk, every request and its decoding, and the
building of its rows, from making the client on (one per run, for every way). The
ways are checked to give the same rows (count and checksum) before any timing; then
paired rounds, each running every way in an order that rotates from round to round; the
figures are the medians of the per-round ratios. The client's CPU time and the server's
share of a CPU during each way's runs are printed too: with two cores, a way whose client
CPU nears its time, or whose server nears 100%, is bound by CPU and not by the latency.

``python benchmarks/bench_official.py [--quick]``
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import msgspec
from losant_rest import Client  # type: ignore[import-untyped]

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._results import Result, script_main
from benchmarks.bench_usage import DAY, LATENCY, TOKEN, LocalServer, seeded_instance_id, window
from losant_async import LosantClient
from losant_async.usage import METRICS, UsageRow, scrape_usage

THREADS = 16
PER_PAGE = 100

Row = tuple[Any, ...]


# -- rows, in one form for every client ------------------------------------------------


def row(*values: Any) -> Row:
    """A row (type, id, name, parent, metric, date, field, value) from losant-rest's
    answers as a tuple, its date (the API's ISO text) parsed into a datetime."""
    when = values[5]
    return (*values[:5], None if when is None else datetime.fromisoformat(when), *values[6:])


def digest(rows: Iterable[Row | UsageRow]) -> tuple[int, str]:
    """Count and an order-independent checksum of rows of either client."""
    plain = (msgspec.structs.astuple(r)[:-1] if isinstance(r, UsageRow) else r for r in rows)
    lines = sorted(repr(r) for r in plain)  # all but losant_async's ``error``
    return len(lines), hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


# -- the scrape with losant-rest --------------------------------------------------------

Entity = tuple[str, str, str | None, str | None]  # type, id, name, parent


def pages(fetch: Callable[..., Any], **args: Any) -> Iterator[Any]:
    """Items of a ``page``/``perPage`` list, page after page until ``totalCount``."""
    page = 0
    while True:
        got = fetch(page=page, perPage=PER_PAGE, **args)
        yield from got["items"]
        page += 1
        if page * PER_PAGE >= got["totalCount"]:
            return


def cursor(fetch: Callable[..., Any], **args: Any) -> Iterator[Any]:
    """Items of a ``startingAfterId``/``limit`` list, until ``hasMore`` is false."""
    after: dict[str, str] = {}
    while True:
        got = fetch(limit=PER_PAGE, **args, **after)
        yield from got["items"]
        if not got.get("hasMore") or not got["items"]:
            return
        after = {"startingAfterId": got["items"][-1]["id"]}


def official_rows(url: str, instance_id: str, start: int, end: int, threads: int) -> list[Row]:
    """Every usage row, with ``threads`` threads (1: plain sequential calls)."""
    client = Client(auth_token=TOKEN, url=url)  # made here, as losant_async's client is
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(ThreadPoolExecutor(threads)) if threads > 1 else None

        def each(call: Callable[[Any], list[Any]], things: list[Any]) -> list[Any]:
            results = pool.map(call, things) if pool is not None else map(call, things)
            return [x for result in results for x in result]

        orgs = list(pages(client.instance_orgs.get, instanceId=instance_id))
        entities: list[Entity] = [("organization", o["id"], o["name"], instance_id) for o in orgs]

        def org_apps(org: Any) -> list[Entity]:
            apps = pages(client.applications.get, orgId=org["id"])
            return [("application", a["id"], a["name"], org["id"]) for a in apps]

        entities += each(org_apps, orgs)
        boxes = list(cursor(client.instance_sandboxes.get, instanceId=instance_id))
        entities += [
            ("sandbox", b["id"], b.get("fullName") or b.get("email"), instance_id) for b in boxes
        ]
        box_ids = {b["id"] for b in boxes}
        entities += [
            ("application", a["id"], a["name"], a["ownerId"])
            for a in pages(client.applications.get)
            if a.get("ownerId") in box_ids
        ]

        def usage(job: tuple[Entity, str]) -> list[Row]:
            entity, metric = job
            kind, rid = entity[0], entity[1]
            if kind == "organization":
                resource, ids = client.instance_org, {"instanceId": instance_id, "orgId": rid}
            elif kind == "sandbox":
                resource = client.instance_sandbox
                ids = {"instanceId": instance_id, "instanceSandboxId": rid}
            else:
                resource, ids = client.application, {"applicationId": rid}
            args: dict[str, Any] = {"start": start, "end": end, **ids}
            if metric == "payload_counts_breakdown":
                args["resolution"] = DAY
            answer = getattr(resource, metric)(**args)
            if metric == "payload_counts":  # {type: {source: count}}
                return [
                    row(*entity, metric, None, f"{k}.{source}", count)
                    for k, sources in answer.items()
                    for source, count in (sources or {}).items()
                ]
            return [
                row(*entity, metric, entry.get("date"), name, value)
                for entry in answer.get("counts") or ()
                for name, value in entry.items()
                if name != "date" and value is not None
            ]

        return each(usage, [(e, m) for e in entities for m in METRICS])


async def async_rows(
    url: str, instance_id: str, start: int, end: int, bulk: bool = True
) -> list[UsageRow]:
    async with (
        LosantClient(TOKEN, base_url=url) as client,
        scrape_usage(client, instance_id=instance_id, start=start, end=end, bulk=bulk) as running,
    ):
        rows = [r async for r in running]
    assert running.summary.errors == 0
    return rows


# -- the measure ------------------------------------------------------------------------


def measure(sizes: tuple[int, int, int], rounds: int) -> tuple[float, float, float, int, float]:
    """Ratios of losant_async's throughput to the sequential and threaded ones and to its
    own per-entity calls, the rows of a scrape, and the server's CPU share during
    losant_async's scrapes."""
    start, end = window()
    inst = seeded_instance_id()
    server = LocalServer(*sizes, LATENCY)
    with server as url:
        ways: dict[str, Callable[[], list[Row] | list[UsageRow]]] = {
            "losant-rest, sequential": lambda: official_rows(url, inst, start, end, 1),
            f"losant-rest, {THREADS} threads": lambda: official_rows(
                url, inst, start, end, THREADS
            ),
            "losant_async scrape_usage": lambda: anyio.run(async_rows, url, inst, start, end),
            "  the same, bulk=False": lambda: anyio.run(async_rows, url, inst, start, end, False),
        }
        # The same rows from every way, before any timing.
        digests = {name: digest(way()) for name, way in ways.items()}
        assert len(set(digests.values())) == 1, f"the clients disagree: {digests}"
        (count, checksum), *_ = digests.values()
        orgs, sandboxes, apps = sizes
        print(f"{count} rows from each client (sha256 {checksum}): {orgs} orgs of {apps} "
              f"applications, {sandboxes} sandboxes, {LATENCY * 1e3:.0f} ms a request")  # fmt: skip
        names = list(ways)
        times: dict[str, list[float]] = {name: [] for name in names}
        busy: dict[str, list[float]] = {name: [] for name in names}  # the server's CPU share
        own: dict[str, list[float]] = {name: [] for name in names}  # the client's CPU seconds
        for i in range(rounds):
            turn = i % len(names)
            for name in names[turn:] + names[:turn]:  # each goes first in turn
                gc.collect()  # no way pays for garbage another left behind
                cpu, mine, started = server.cpu(), time.process_time(), time.perf_counter()
                rows = ways[name]()
                elapsed = time.perf_counter() - started
                times[name].append(elapsed)
                own[name].append(time.process_time() - mine)
                busy[name].append((server.cpu() - cpu) / elapsed)
                assert len(rows) == count
                del rows  # before the next way runs
    seq, thr, ours, single = (times[n] for n in names)
    vs_seq = statistics.median(s / a for s, a in zip(seq, ours, strict=True))
    vs_thr = statistics.median(t / a for t, a in zip(thr, ours, strict=True))
    vs_single = statistics.median(t / a for t, a in zip(single, ours, strict=True))
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name, median in medians.items():
        print(f"  {name:<28}{median * 1e3:9.0f} ms  {count / median:10,.0f} rows/s  "
              f"client CPU {statistics.median(own[name]) * 1e3:5.0f} ms, "
              f"server CPU busy {statistics.median(busy[name]):4.0%}")  # fmt: skip
    print(f"  losant_async / sequential: {vs_seq:.1f}x, / {THREADS} threads: {vs_thr:.1f}x, "
          f"/ bulk=False: {vs_single:.1f}x (medians of {rounds} paired rounds)")  # fmt: skip
    return vs_seq, vs_thr, vs_single, count, statistics.median(busy[names[2]])


# The goal instance: the shape of the instance the scrape's ground-truth test walks (200
# orgs, 50 sandboxes, 1,000 applications) at one fifth of its size, so that one sequential
# losant-rest scrape takes about 25 s; and a small instance, where the first round trip
# (the lists every later call waits for) is a fifth of the whole scrape, for information.
GOAL_SIZES = (40, 10, 5)
SMALL_SIZES = (10, 4, 5)


def _describe(sizes: tuple[int, int, int], rounds: int, count: int, busy: float) -> str:
    orgs, sandboxes, per_org = sizes
    return (
        f"{count} rows: {orgs} orgs of {per_org} applications each and {sandboxes} sandboxes, "
        f"20 ms latency, median of {rounds} paired rounds; the server's CPU is {busy:.0%} "
        "busy during losant_async's scrape"
    )


def results(quick: bool, callgrind: bool = False) -> list[Result]:
    """The figures for ``python -m benchmarks``."""
    if quick:
        vs_seq, vs_thr, _, count, busy = measure((2, 1, 2), 1)
        notes = _describe((2, 1, 2), 1, count, busy)
        return [
            Result("usage scrape: throughput / losant-rest sequential", vs_seq, "x", notes=notes),
            Result(f"usage scrape: throughput / losant-rest, {THREADS} threads", vs_thr, "x"),
        ]
    out: list[Result] = []
    for sizes, goal, rounds in ((GOAL_SIZES, True, 5), (SMALL_SIZES, False, 3)):
        vs_seq, vs_thr, vs_single, count, busy = measure(sizes, rounds)
        notes = _describe(sizes, rounds, count, busy)
        where = f"{sizes[0]} orgs" if goal else f"small instance, {sizes[0]} orgs"
        out += [
            Result(
                f"usage scrape ({where}): throughput / losant-rest sequential (20 ms latency)",
                vs_seq,
                "x",
                50 if goal else None,
                notes=f"{notes}; bulk endpoints make it {vs_single:.1f}x its per-entity calls",
            ),
            Result(
                f"usage scrape ({where}): throughput / losant-rest, {THREADS} threads "
                "(20 ms latency)",
                vs_thr,
                "x",
                6 if goal else None,
                notes=notes,
            ),
        ]
    return out


if __name__ == "__main__":
    os.environ.pop("LOSANT_API_TOKEN", None)
    script_main(__doc__, results)
