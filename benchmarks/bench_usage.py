"""The usage scrape end to end: throughput against a sequential scrape, and memory flat in
the number of entities.

The local Losant server runs in a child process (its CPU is not the client's). Two
measures:

- throughput: ``scrape_usage`` of some orgs (every metric, daily, 7 days) on the server
  answering each request after 20 ms (an API across a network), 16 entities at a time
  (with their metrics in parallel, up to the client's 32 requests in flight) against one
  request at a time (``max_concurrency=1``), alternating, best of N;
- memory: the peak of Python allocations (``tracemalloc``) over a whole scrape of a small
  and a ten times larger instance (200 orgs of 5 applications and 50 sandboxes, against
  2,000 orgs and 500 sandboxes); rows are counted and dropped, as a writer would.

``python benchmarks/bench_usage.py [--quick]``
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import signal
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import anyio

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._peer_server import ChildServer
from benchmarks._results import Result, script_main
from losant_async import LosantClient
from losant_async.testing import FakeLosant, Latency
from losant_async.usage import ScrapeSummary, scrape_usage

TOKEN = "bench-token"
DAY = 86_400_000


LATENCY = 0.02


class LocalServer(ChildServer):
    """The local Losant server of that size, answering each request after ``latency``
    seconds, in a child process."""

    def __init__(self, orgs: int, sandboxes: int, apps: int, latency: float = 0.0) -> None:
        sizes = [str(orgs), str(sandboxes), str(apps), str(latency)]
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


async def serve(orgs: int, sandboxes: int, apps: int, latency: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Nothing reads this server's journal: keeping every request of a long benchmark would
    # only grow the heap the garbage collector walks while requests wait.
    async with FakeLosant(
        TOKEN, orgs=orgs, sandboxes=sandboxes, apps_per_org=apps, journal_limit=100
    ) as server:
        if latency > 0:
            server.faults.add(Latency(latency))
        # This process is the server's alone: what it built to start (the seeded state, the
        # compiled schema checks, ~75k objects) lives as long as it does, so the collector
        # stops walking it; else a full collection stalls a request by 30 ms now and then.
        gc.collect()
        gc.freeze()
        print(f"Losant API at {server.url}", flush=True)
        await stop.wait()


@functools.cache
def seeded_instance_id() -> str:
    """The local server's instance ID (the same seed gives the same IDs), made once and
    outside any timing: building a server's state is no part of a scrape."""
    return FakeLosant(TOKEN).ids.instance_id


def window() -> tuple[int, int]:
    """The last seven whole days, as epoch ms (the API's ``end`` is inclusive)."""
    end = int(time.time() * 1000) // DAY * DAY - 1
    return end + 1 - 7 * DAY, end


async def scrape(url: str, max_concurrency: int = 32, **options: Any) -> tuple[int, ScrapeSummary]:
    start, end = window()
    async with (
        LosantClient(TOKEN, base_url=url, max_concurrency=max_concurrency) as client,
        scrape_usage(
            client, instance_id=seeded_instance_id(), start=start, end=end, **options
        ) as running,
    ):
        rows = 0
        async for _row in running:
            rows += 1
    return rows, running.summary


async def throughput(url: str, orgs: int, repeat: int) -> float:
    best: dict[int, float] = {}
    rows_seen: set[int] = set()
    for i in range(repeat):
        for concurrency in (16, 1) if i % 2 == 0 else (1, 16):
            started = time.perf_counter()
            # 1: one request at a time, as a plain loop over the API would make them.
            rows, summary = await scrape(
                url, max_concurrency=32 if concurrency > 1 else 1, concurrency=concurrency
            )
            elapsed = time.perf_counter() - started
            rows_seen.add(rows)
            best[concurrency] = min(best.get(concurrency, float("inf")), elapsed)
    assert len(rows_seen) == 1, "the runs disagree"
    print(f"throughput: {orgs} orgs of 5 applications, {summary.requests} requests, 20 ms each")
    for concurrency, elapsed in best.items():
        print(f"  {'16 entities at a time' if concurrency > 1 else 'one request at a time':<22}"
              f"{elapsed * 1e3:8.0f} ms  "
              f"{summary.requests / elapsed:8.0f} requests/s")  # fmt: skip
    print(f"  ratio: {best[1] / best[16]:.1f}x")
    return best[1] / best[16]


async def memory(url: str) -> tuple[int, int, float]:
    tracemalloc.start()
    tracemalloc.reset_peak()
    rows, summary = await scrape(url, concurrency=16)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return summary.entities_done, peak, rows / summary.elapsed


def results(quick: bool, callgrind: bool = False) -> list[Result]:
    """The figures for ``python -m benchmarks``."""
    sizes = [(10, 2, 2), (100, 20, 2)] if quick else [(200, 50, 5), (2000, 500, 5)]
    throughput_orgs, repeat = (2, 2) if quick else (20, 4)
    seeded_instance_id()  # made before any timing or tracing
    with LocalServer(throughput_orgs, 0, 5, LATENCY) as url:
        speedup = anyio.run(throughput, url, throughput_orgs, repeat)
    peaks = []
    for orgs, sandboxes, apps in sizes:
        with LocalServer(orgs, sandboxes, apps) as url:
            peaks.append(anyio.run(memory, url))
    print("memory: tracemalloc peak over a whole scrape, 16 entities at a time")
    for entities, peak, rate in peaks:
        print(f"  {entities:>6} entities: peak {peak / 1024:8.0f} KiB  ({rate:,.0f} rows/s traced)")
    print(f"  peak ratio, {peaks[1][0] / peaks[0][0]:.0f}x the entities: "
          f"{peaks[1][1] / peaks[0][1]:.2f}x")  # fmt: skip
    (small, small_peak, _), (large, large_peak, _) = peaks
    return [
        Result(
            "usage scrape: sequential time / 16 entities at a time (20 ms latency)",
            speedup,
            "x",
            notes=f"{throughput_orgs} orgs of 5 applications, best of {repeat} alternating runs",
        ),
        Result(
            f"usage scrape: memory peak over {large:,} entities / over {small:,}",
            large_peak / small_peak,
            "x",
            None if quick else 1.5,  # quick sizes are below the fan-out's own footprint
            "lower",
            f"tracemalloc peaks {small_peak / 1024:,.0f} and {large_peak / 1024:,.0f} KiB",
        ),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        orgs, sandboxes, apps = (int(x) for x in sys.argv[2:5])
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(orgs, sandboxes, apps, float(sys.argv[5])))
    else:
        os.environ.pop("LOSANT_API_TOKEN", None)
        script_main(__doc__, results)
