"""The usage scrape against Losant's official synchronous client, ``losant-rest``.

The same scrape (every metric of every org, sandbox and application over one window,
daily, the same rows) three ways, against one local Losant server in a child process
answering each request after 20 ms (an API across a network):

- ``losant-rest``, one call after another, as its documentation shows it used;
- ``losant-rest`` from 16 threads (``concurrent.futures``), one task per entity and metric;
- ``scrape_usage`` of losant_async (its defaults: 16 entities at a time, up to 32 requests
  in flight).

The three are checked to give the same rows (count and checksum) before any timing; then
paired rounds, each running all three in an order that rotates from round to round; the
figures are the medians of the per-round ratios. The server's share of a CPU during each
way's runs is printed too: near 100%, the server and not the client would bound the run.

``python benchmarks/bench_official.py [--quick]``
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
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

from benchmarks._peer_server import ChildServer
from benchmarks._results import Result, script_main
from losant_async import LosantClient
from losant_async.testing import FakeLosant, Latency
from losant_async.usage import METRICS, scrape_usage

TOKEN = "bench-token"
DAY = 86_400_000
LATENCY = 0.02
THREADS = 16
PER_PAGE = 100

Row = tuple[Any, ...]


def window() -> tuple[int, int]:
    """The last seven whole days, as epoch ms (the API's ``end`` is inclusive)."""
    end = int(time.time() * 1000) // DAY * DAY - 1
    return end + 1 - 7 * DAY, end


class LocalServer(ChildServer):
    """The local Losant server of that size, answering after 20 ms, in a child process."""

    def __init__(self, orgs: int, sandboxes: int, apps: int) -> None:
        sizes = [str(orgs), str(sandboxes), str(apps)]
        super().__init__([sys.executable, str(Path(__file__).resolve()), "--serve", *sizes])

    def cpu(self) -> float:
        """CPU seconds the server has used so far (0 where /proc is missing)."""
        if self._proc is None:
            return 0.0
        try:
            fields = Path(f"/proc/{self._proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def serve(orgs: int, sandboxes: int, apps: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with FakeLosant(TOKEN, orgs=orgs, sandboxes=sandboxes, apps_per_org=apps) as server:
        server.faults.add(Latency(LATENCY))
        print(f"Losant API at {server.url}", flush=True)
        await stop.wait()


# -- rows, in one form for every client ------------------------------------------------


def canonical(*row: Any) -> Row:
    """A row (type, id, name, parent, metric, date, field, value) as a plain tuple, its
    date as ISO text in UTC (from the API's text or from a datetime)."""
    when = row[5]
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    return (*row[:5], None if when is None else when.isoformat(), *row[6:])


def digest(rows: Iterable[Row]) -> tuple[int, str]:
    """Count and an order-independent checksum of rows."""
    lines = sorted(repr(r) for r in rows)
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


def official_rows(client: Any, instance_id: str, start: int, end: int, threads: int) -> list[Row]:
    """Every usage row, with ``threads`` threads (1: plain sequential calls)."""
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
                    canonical(*entity, metric, None, f"{k}.{source}", count)
                    for k, sources in answer.items()
                    for source, count in (sources or {}).items()
                ]
            return [
                canonical(*entity, metric, entry.get("date"), name, value)
                for entry in answer.get("counts") or ()
                for name, value in entry.items()
                if name != "date" and value is not None
            ]

        return each(usage, [(e, m) for e in entities for m in METRICS])


async def async_rows(url: str, start: int, end: int) -> list[Row]:
    instance_id = FakeLosant(TOKEN).ids.instance_id  # same seed, same ids
    async with (
        LosantClient(TOKEN, base_url=url) as client,
        scrape_usage(client, instance_id=instance_id, start=start, end=end) as running,
    ):
        rows = [
            canonical(*msgspec.structs.astuple(r)[:-1])  # all but ``error``
            async for r in running
        ]
    assert running.summary.errors == 0
    return rows


# -- the measure ------------------------------------------------------------------------


def measure(sizes: tuple[int, int, int], rounds: int) -> tuple[float, float, int, float]:
    """Ratios of losant_async's throughput to the sequential and threaded ones, the rows
    of a scrape, and the server's CPU share during losant_async's scrapes."""
    start, end = window()
    instance_id = FakeLosant(TOKEN).ids.instance_id
    server = LocalServer(*sizes)
    with server as url:
        client = Client(auth_token=TOKEN, url=url)
        ways: dict[str, Callable[[], list[Row]]] = {
            "losant-rest, sequential": lambda: official_rows(client, instance_id, start, end, 1),
            f"losant-rest, {THREADS} threads": lambda: official_rows(
                client, instance_id, start, end, THREADS
            ),
            "losant_async scrape_usage": lambda: anyio.run(async_rows, url, start, end),
        }
        # The same rows from all three, before any timing.
        digests = {name: digest(way()) for name, way in ways.items()}
        assert len(set(digests.values())) == 1, f"the clients disagree: {digests}"
        (count, checksum), *_ = digests.values()
        orgs, sandboxes, apps = sizes
        print(f"{count} rows from each client (sha256 {checksum}): {orgs} orgs of {apps} "
              f"applications, {sandboxes} sandboxes, {LATENCY * 1e3:.0f} ms a request")  # fmt: skip
        names = list(ways)
        times: dict[str, list[float]] = {name: [] for name in names}
        busy: dict[str, list[float]] = {name: [] for name in names}  # the server's CPU share
        for i in range(rounds):
            for name in names[i % 3 :] + names[: i % 3]:  # each goes first in turn
                cpu, started = server.cpu(), time.perf_counter()
                rows = ways[name]()
                elapsed = time.perf_counter() - started
                times[name].append(elapsed)
                busy[name].append((server.cpu() - cpu) / elapsed)
                assert len(rows) == count
    seq, thr, ours = (times[n] for n in names)
    vs_seq = statistics.median(s / a for s, a in zip(seq, ours, strict=True))
    vs_thr = statistics.median(t / a for t, a in zip(thr, ours, strict=True))
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name, median in medians.items():
        print(f"  {name:<28}{median * 1e3:9.0f} ms  {count / median:10,.0f} rows/s  "
              f"server CPU busy {statistics.median(busy[name]):4.0%}")  # fmt: skip
    print(f"  losant_async / sequential: {vs_seq:.1f}x, / {THREADS} threads: {vs_thr:.1f}x "
          f"(medians of {rounds} paired rounds)")  # fmt: skip
    return vs_seq, vs_thr, count, statistics.median(busy[names[2]])


def results(quick: bool, callgrind: bool = False) -> list[Result]:
    """The figures for ``python -m benchmarks``."""
    sizes, rounds = ((2, 1, 2), 1) if quick else ((10, 4, 5), 5)
    vs_seq, vs_thr, count, busy = measure(sizes, rounds)
    notes = (
        f"{count} rows, {sizes[0]} orgs of {sizes[2]} applications and {sizes[1]} sandboxes, "
        f"20 ms latency, median of {rounds} paired rounds; the server's CPU is {busy:.0%} busy "
        "during losant_async's scrape"
    )
    return [
        Result(
            "usage scrape: throughput / losant-rest sequential (20 ms latency)",
            vs_seq,
            "x",
            None if quick else 50,
            notes=notes,
        ),
        Result(
            f"usage scrape: throughput / losant-rest, {THREADS} threads (20 ms latency)",
            vs_thr,
            "x",
            None if quick else 6,
            notes=notes,
        ),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        orgs, sandboxes, apps = (int(x) for x in sys.argv[2:5])
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(orgs, sandboxes, apps))
    else:
        os.environ.pop("LOSANT_API_TOKEN", None)
        script_main(__doc__, results)
