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

Bytecode: the figures with goals run with compiled bytecode cached (``__pycache__``
written and read, as an installed package has it; ``PYTHONDONTWRITEBYTECODE`` is removed
from the children's environment and the cache is warmed first). The rows marked "from
source" run the same children on a copy of the package without ``__pycache__`` and with
``PYTHONDONTWRITEBYTECODE=1``, so every module of the package is compiled as it loads (a
checkout on a machine that writes no bytecode); aiohttp and the standard library keep
their installed bytecode.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._peer_server import PeerServer
from benchmarks._results import (
    ROOT,
    Result,
    callgrind_available,
    child_env,
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


@contextmanager
def package_without_bytecode() -> Iterator[Path]:
    """A folder holding a copy of the package without ``__pycache__``: children run there
    import it (the current folder comes first on ``sys.path``) and compile every module."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(
            ROOT / "losant_async",
            Path(tmp, "losant_async"),
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        yield Path(tmp)


def runner(source: Path | None) -> Callable[..., str]:
    """``run_python`` (bytecode cached) or, given a package copy, the same from source."""
    if source is None:
        return run_python
    env = {**child_env(), "PYTHONDONTWRITEBYTECODE": "1"}

    def run(code: str, *args: str) -> str:
        argv = [sys.executable, "-c", code, *args]
        done = subprocess.run(
            argv, cwd=source, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"child failed: {done.stderr[-3000:]}")
        return done.stdout

    where = run("import losant_async; print(losant_async.__file__)").strip()
    if not Path(where).is_relative_to(source):
        raise RuntimeError(f"children import losant_async from {where}, not the copy")
    return run


def import_ratio(rounds: int, source: Path | None = None) -> Result:
    run = runner(source)
    if source is None:
        for statement in IMPORTS.values():  # compiled bytecode and the page cache, both warm
            run(IMPORT.format(statement=statement))

    def timer(statement: str) -> Callable[[], float]:
        return lambda: float(run(IMPORT.format(statement=statement)))

    times = paired({name: timer(statement) for name, statement in IMPORTS.items()}, rounds)
    ours_ms = statistics.median(times["ours"]) * 1e3
    theirs_ms = statistics.median(times["aiohttp"]) * 1e3
    how = "bytecode cached" if source is None else "losant_async from source"
    return Result(
        "import: `from losant_async import LosantClient` / `import aiohttp`"
        + ("" if source is None else ", losant_async from source (no bytecode cache)"),
        median_ratio(times["ours"], times["aiohttp"]),
        "x",
        1.2 if source is None else None,
        "lower",
        f"fresh processes, {how}, CPU time, {spread(times['ours'], times['aiohttp'])}; "
        f"{ours_ms:.0f} ms vs {theirs_ms:.0f} ms",
    )


def first_call_block(rounds: int, source: Path | None = None) -> Result:
    run_code = runner(source)
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
            if source is None:
                for code in FIRST_CALL_CODE.values():  # warm bytecode, as for the import
                    run_code(code, arg)

            def one(name: str) -> Callable[[], float]:
                def run() -> float:
                    found = json.loads(run_code(FIRST_CALL_CODE[name], arg))
                    seen[name].append(found)
                    return float(found["longest"])

                return run

            blocks = paired({name: one(name) for name in seen}, rounds)
    ours = [b * 1e3 for b in blocks["ours"]]
    raw = [b * 1e3 for b in blocks["aiohttp"]]
    wall = statistics.median(f["wall"] for f in seen["ours"]) * 1e3
    cpu = statistics.median(f["cpu"] for f in seen["ours"]) * 1e3
    how = "bytecode cached" if source is None else "losant_async compiled as it loads"
    return Result(
        "first call: longest event-loop block in a fresh process"
        + (" (bytecode cached)" if source is None else ", losant_async from source"),
        statistics.median(ours),
        "ms",
        20.0,
        "lower",
        f"{len(ours)} processes, {how}, {min(ours):.0f}-{max(ours):.0f} ms ({cpu:.0f} ms of "
        f"it CPU time), the call {wall:.0f} ms in all (client built, call, decode); raw "
        f"aiohttp's first request blocks {statistics.median(raw):.1f} ms",
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
    with package_without_bytecode() as source:
        found.append(first_call_block(rounds if quick else 9, source))
        found.append(import_ratio(rounds if quick else 9, source))
    return found


if __name__ == "__main__":
    script_main(__doc__, results)
