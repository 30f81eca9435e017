"""The usage scrape end to end: throughput against a sequential scrape, and memory flat in
the number of entities.

The local Losant server runs in a child process. Two measures:

- throughput: ``scrape_usage`` of some orgs (every metric, daily, 7 days) on an
  in-process server answering after 20 ms (an API across a network), 16 entities at a
  time (with their metrics in parallel, up to the client's 32 requests in flight) against
  one request at a time (``max_concurrency=1``), alternating, best of N;
- memory: the peak of Python allocations (``tracemalloc``) over a whole scrape of a small
  and a ten times larger instance (200 orgs of 5 applications and 50 sandboxes, against
  2,000 orgs and 500 sandboxes); rows are counted and dropped, as a writer would.

``python benchmarks/bench_usage.py [--quick]``
"""

from __future__ import annotations

import os
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


def local_server(orgs: int, sandboxes: int, apps: int) -> ChildServer:
    """``python -m losant_async.testing`` of that size in a child process."""
    cmd = [sys.executable, "-m", "losant_async.testing", "--port", "0", "--token", TOKEN]
    cmd += ["--orgs", str(orgs), "--sandboxes", str(sandboxes), "--apps-per-org", str(apps)]
    return ChildServer(cmd)


def window() -> tuple[int, int]:
    end = int(time.time() * 1000) // DAY * DAY - 1
    return end + 1 - 7 * DAY, end


async def scrape(url: str, max_concurrency: int = 32, **options: Any) -> tuple[int, ScrapeSummary]:
    instance_id = FakeLosant(TOKEN).ids.instance_id  # same seed, same ids
    start, end = window()
    async with (
        LosantClient(TOKEN, base_url=url, max_concurrency=max_concurrency) as client,
        scrape_usage(client, instance_id=instance_id, start=start, end=end, **options) as running,
    ):
        rows = 0
        async for _row in running:
            rows += 1
    return rows, running.summary


async def throughput(orgs: int, repeat: int) -> float:
    async with FakeLosant(TOKEN, orgs=orgs, sandboxes=0, apps_per_org=5) as server:
        server.faults.add(Latency(0.02))
        best: dict[int, float] = {}
        rows_seen: set[int] = set()
        for i in range(repeat):
            for concurrency in (16, 1) if i % 2 == 0 else (1, 16):
                started = time.perf_counter()
                # 1: one request at a time, as a plain loop over the API would make them.
                rows, summary = await scrape(
                    server.url,
                    max_concurrency=32 if concurrency > 1 else 1,
                    concurrency=concurrency,
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
    speedup = anyio.run(throughput, throughput_orgs, repeat)
    peaks = []
    for orgs, sandboxes, apps in sizes:
        with local_server(orgs, sandboxes, apps) as url:
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
    os.environ.pop("LOSANT_API_TOKEN", None)
    script_main(__doc__, results)
