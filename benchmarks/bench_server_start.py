"""Local Losant server: how long a fresh process takes to import, start and answer.

Usage: ``python benchmarks/bench_server_start.py [--quick]``

Each run is a new Python process that imports ``losant_async.testing``, builds a
``FakeLosant()`` (reading the API description), starts it on a free port, sends one
``GET /instances/{id}`` over TCP with aiohttp, then a second request, and stops it. The
process reports the time of each phase (``time.perf_counter``, from just before the
import); the parent also times the whole process, interpreter start-up and exit included.
Figures are the median and the worst over the runs; the table reports the median from
the start of the import to the first answer, for information (there is no peer to pair
it with).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._results import Result, run_python, script_main

CHILD = """
import time
t0 = time.perf_counter()
import asyncio, json
import aiohttp
from losant_async.testing import FakeLosant
t_import = time.perf_counter()

async def main() -> dict[str, float]:
    marks = {"import": t_import - t0}
    t = time.perf_counter()
    server = FakeLosant()
    marks["build"] = time.perf_counter() - t
    t = time.perf_counter()
    await server.start()
    marks["start"] = time.perf_counter() - t
    headers = {"Authorization": "Bearer " + server.token}
    async with aiohttp.ClientSession(headers=headers) as http:
        url = server.url + "/instances/" + server.ids.instance_id
        for name in ("first request", "second request"):
            t = time.perf_counter()
            async with http.get(url) as resp:
                assert resp.status == 200, resp.status
                await resp.read()
            marks[name] = time.perf_counter() - t
    t = time.perf_counter()
    await server.close()
    marks["stop"] = time.perf_counter() - t
    marks["import to first answer"] = sum(
        marks[k] for k in ("import", "build", "start", "first request")
    )
    return marks

print(json.dumps(asyncio.run(main())))
"""


def run_once() -> dict[str, float]:
    started = time.perf_counter()
    marks: dict[str, float] = json.loads(run_python(CHILD, timeout=120))
    marks["whole process"] = time.perf_counter() - started
    return marks


def results(quick: bool, callgrind: bool = False) -> list[Result]:
    runs = 3 if quick else 15
    run_once()  # writes the bytecode caches, as any first run does
    found = [run_once() for _ in range(runs)]
    print(f"Python {sys.version.split()[0]}, {runs} fresh processes")
    print(f"{'phase':<24}{'median ms':>12}{'worst ms':>12}")
    for phase in found[0]:
        values = [r[phase] * 1000 for r in found]
        print(f"{phase:<24}{statistics.median(values):>12.1f}{max(values):>12.1f}")
    first = [r["import to first answer"] * 1000 for r in found]
    return [
        Result(
            "local Losant server: import to first answer, fresh process",
            statistics.median(first),
            "ms",
            notes=f"{runs} processes, worst {max(first):.0f} ms",
        )
    ]


if __name__ == "__main__":
    script_main(__doc__, results)
