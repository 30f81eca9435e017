"""Loading: the import, and how long the first call blocks the event loop.

``python benchmarks/bench_loading.py [--quick]``

- import: ``from losant_async import LosantClient`` against ``import aiohttp`` (which it
  includes), each timed inside its own fresh interpreter by its CPU time (user + system:
  the time other processes take the core is left out, reading cached files is not), the
  two alternating round by round; the figure is the median of the per-round ratios;
  goal within 1.2x.
- first-call loop block: a fresh process imports ``LosantClient``, then in
  ``asyncio.run`` builds a client and makes one ``instanceOrg.payloadCountsBreakdown``
  call (31 rows) to the peer server (``benchmarks/_peer_server.py``, its own process).
  Every callback the loop runs during that (``asyncio.Handle._run``, timed by a wrapper in
  that process only) is timed; the figure is the longest one by the clock (the notes give
  its CPU time too), the median over fresh processes; goal <= 20 ms. For reference, the
  same is measured for raw aiohttp's first request (session, connection,
  ``msgspec.json.decode``) in processes alternating with the client's. Absolute times:
  on a shared machine read them with the spread.
- with ``--callgrind`` (valgrind on PATH): the import as instructions, stable where time
  is not (disk and page-cache time are left out).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._peer_server import PeerServer
from benchmarks._results import (
    Result,
    callgrind_available,
    instructions,
    median_ratio,
    paired,
    run_python,
    script_main,
    spread,
)
from benchmarks.bench_calls import TOKEN, capture

IMPORT = """
import time
t = time.process_time()
{statement}
print(time.process_time() - t)
"""

IMPORTS = {
    "ours": "from losant_async import LosantClient",
    "aiohttp": "import aiohttp",
}

FIRST_CALL = """
import asyncio, json, sys, time
from asyncio import events

{imports}

spec = json.loads(sys.argv[1])
longest = [0.0, 0.0]
measuring = False
_run = events.Handle._run


def timed_run(self):
    if not measuring:
        return _run(self)
    t, cpu = time.perf_counter(), time.thread_time()
    try:
        return _run(self)
    finally:
        took = time.perf_counter() - t
        if took > longest[0]:
            longest[0], longest[1] = took, time.thread_time() - cpu


events.Handle._run = timed_run


async def main():
    global measuring
    measuring = True
    t = time.perf_counter()
    await first_call(spec)
    wall = time.perf_counter() - t
    measuring = False
    print(json.dumps({{"longest": longest[0], "cpu": longest[1], "wall": wall}}))

{body}

asyncio.run(main())
"""

OURS = """
async def first_call(spec):
    async with LosantClient(spec["token"], base_url=spec["url"]) as client:
        usage = await client.instance_org.payload_counts_breakdown(**spec["kwargs"])
        assert len(usage.counts) == 31
"""

RAW = """
async def first_call(spec):
    headers = {"Authorization": "Bearer " + spec["token"]}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(spec["url"] + spec["path"], params=spec["query"]) as resp:
            assert resp.status == 200
            usage = msgspec.json.decode(await resp.read())
        assert len(usage["counts"]) == 31
"""

FIRST_CALL_CODE = {
    "ours": FIRST_CALL.format(imports="from losant_async import LosantClient", body=OURS),
    "aiohttp": FIRST_CALL.format(imports="import aiohttp, msgspec", body=RAW),
}


def import_ratio(rounds: int) -> Result:
    for statement in IMPORTS.values():  # compiled bytecode and the page cache, both warm
        run_python(IMPORT.format(statement=statement))

    def timer(statement: str) -> Callable[[], float]:
        return lambda: float(run_python(IMPORT.format(statement=statement)))

    times = paired({name: timer(statement) for name, statement in IMPORTS.items()}, rounds)
    ours_ms = statistics.median(times["ours"]) * 1e3
    theirs_ms = statistics.median(times["aiohttp"]) * 1e3
    return Result(
        "import: `from losant_async import LosantClient` / `import aiohttp`",
        median_ratio(times["ours"], times["aiohttp"]),
        "x",
        1.2,
        "lower",
        f"fresh processes, CPU time, {spread(times['ours'], times['aiohttp'])}; "
        f"{ours_ms:.0f} ms vs {theirs_ms:.0f} ms",
    )


def first_call_block(rounds: int) -> Result:
    bodies = capture()
    call = bodies.daily
    spec = {
        "token": TOKEN,
        "kwargs": call.client_kwargs(),
        "path": call.path,
        "query": call.query,
    }
    seen: dict[str, list[dict[str, float]]] = {"ours": [], "aiohttp": []}
    with tempfile.TemporaryDirectory() as tmp:
        daily, hourly = Path(tmp, "daily.json"), Path(tmp, "hourly.json")
        daily.write_bytes(bodies.daily_body)
        hourly.write_bytes(bodies.hourly_body)
        with PeerServer(TOKEN, daily, hourly) as url:
            arg = json.dumps({**spec, "url": url})
            for code in FIRST_CALL_CODE.values():  # warm bytecode, as for the import
                run_python(code, arg)

            def one(name: str) -> Callable[[], float]:
                def run() -> float:
                    found = json.loads(run_python(FIRST_CALL_CODE[name], arg))
                    seen[name].append(found)
                    return float(found["longest"])

                return run

            blocks = paired({name: one(name) for name in seen}, rounds)
    ours = [b * 1e3 for b in blocks["ours"]]
    raw = [b * 1e3 for b in blocks["aiohttp"]]
    wall = statistics.median(f["wall"] for f in seen["ours"]) * 1e3
    cpu = statistics.median(f["cpu"] for f in seen["ours"]) * 1e3
    return Result(
        "first call: longest event-loop block in a fresh process",
        statistics.median(ours),
        "ms",
        20.0,
        "lower",
        f"{len(ours)} processes, {min(ours):.0f}-{max(ours):.0f} ms ({cpu:.0f} ms of it CPU "
        f"time), the call {wall:.0f} ms in all (client built, call, decode); raw aiohttp's "
        f"first request blocks {statistics.median(raw):.1f} ms",
    )


def import_instructions() -> Result:
    """The import figure as instruction counts: a whole process with the import less one
    without it, for each side (callgrind; interpreter start-up cancels out)."""
    empty = instructions([sys.executable, "-c", "pass"])
    ours, theirs = (
        instructions([sys.executable, "-c", statement]) - empty
        for statement in (IMPORTS["ours"], IMPORTS["aiohttp"])
    )
    return Result(
        "import: `from losant_async import LosantClient` / `import aiohttp`, instructions",
        ours / theirs,
        "x",
        1.2,
        "lower",
        f"callgrind, {ours / 1e6:,.0f}M vs {theirs / 1e6:,.0f}M instructions",
    )


def results(quick: bool, callgrind: bool = False) -> list[Result]:
    rounds = 2 if quick else 15
    found = [import_ratio(rounds)]
    if callgrind:
        if not callgrind_available():
            raise RuntimeError("--callgrind needs valgrind on PATH")
        found.append(import_instructions())
    found.append(first_call_block(rounds if quick else 9))
    return found


if __name__ == "__main__":
    script_main(__doc__, results)
