"""Calls: the client against raw aiohttp with the same msgspec decode, paired rounds.

``python benchmarks/bench_calls.py [--quick] [--callgrind]``

The server is ``benchmarks/_peer_server.py`` in its own process: a bare asyncio HTTP/1.1
server answering with bodies captured once from the local Losant server
(``losant_async.testing.FakeLosant``, run in this process for that only), about 25 us of
CPU a request against 90 us and more for any aiohttp client, so the client's process is
the bottleneck and its cost shows in the throughput. Not the local server itself: it
validates every request against the API description and builds its answer, about 1.5 ms
of CPU a call; nor a minimal aiohttp web server, which costs about as much per request
as the client it serves: with either, the server's core is the bottleneck and every
client measures alike.

Figures (every ratio is the median of per-round ratios, rounds alternating A B / B A):

- throughput, ``instanceOrg.payloadCountsBreakdown`` with a 31-row daily breakdown,
  64 calls in flight, 0 ms latency: the client (``max_concurrency=64``) against one
  ``aiohttp.ClientSession`` sending the same query (``params=``, as aiohttp code usually
  does) and headers and decoding with ``msgspec.json.Decoder(models.PayloadCountsBreakdown)``;
  goal >= 0.95x. For information, also against raw aiohttp given the whole URL as one
  prebuilt string (no query building: the strictest peer), in the same rounds.
- the 1 MB call (hourly, 900 days), one at a time: the client's time against raw
  aiohttp + msgspec (goal within 1.05x) and raw aiohttp + ``json.loads`` against the
  client's (goal >= 2x).
- the client's own CPU per call: aiohttp replaced, in this benchmark only, by an instant
  in-process session object answering the 31-row body; the client's CPU time per call
  less that of the same decode through the same object, paired rounds.
- with ``--callgrind`` (valgrind on PATH): instructions per call, from whole processes
  counted by callgrind at two call counts (the difference cancels start-up): through the
  instant session (client less raw), and against the peer server (raw / client: the
  throughput ratio by instruction count, stable where time is not).
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, cast
from urllib.parse import urlencode

import aiohttp
import msgspec
from multidict import CIMultiDict, CIMultiDictProxy

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._peer_server import PeerServer
from benchmarks._results import (
    Result,
    callgrind_available,
    instructions,
    median_ratio,
    paired_async,
    script_main,
    spread,
)
from losant_async import LosantClient, models
from losant_async._generated.meta import ACCEPT_VERSION

TOKEN = "bench-token"
CONCURRENCY = 64
DAILY_DAYS = 30  # start = end - 30 days: 31 daily rows
HOURLY_DAYS = 900  # ~1 MB of hourly rows


@dataclass(frozen=True)
class Call:
    """One usage-breakdown call, as the client makes it and as raw aiohttp repeats it."""

    instance_id: str
    org_id: str
    start: int
    end: int
    resolution: int
    query: list[tuple[str, str]]  # what the client sent, in order
    path: str  # the path the client requested

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "org_id": self.org_id,
            "start": self.start,
            "end": self.end,
            "resolution": self.resolution,
        }


@dataclass(frozen=True)
class Bodies:
    daily: Call
    hourly: Call
    daily_body: bytes
    hourly_body: bytes


def capture() -> Bodies:
    """Make both calls once with the client against the local Losant server; keep the
    request it sent and the answer."""
    from losant_async.testing import FakeLosant

    async def run() -> Bodies:
        async with (
            FakeLosant(TOKEN, orgs=1, sandboxes=0, apps_per_org=1, days=HOURLY_DAYS + 5) as srv,
            LosantClient(TOKEN, base_url=srv.url) as client,
        ):
            ids = srv.ids
            end = int(time.time() * 1000)
            calls: list[Call] = []
            bodies: list[bytes] = []
            plan: tuple[tuple[int, Literal[86400000, 3600000]], ...] = (
                (DAILY_DAYS, 86400000),
                (HOURLY_DAYS, 3600000),
            )
            for days, resolution in plan:
                start = end - days * 86_400_000
                await client.instance_org.payload_counts_breakdown(
                    instance_id=ids.instance_id,
                    org_id=ids.org_id,
                    start=start,
                    end=end,
                    resolution=resolution,
                )
                entry = srv.journal.last("instanceOrg.payloadCountsBreakdown")
                assert entry.status == 200, entry.status
                calls.append(
                    Call(
                        ids.instance_id, ids.org_id, start, end, resolution, entry.query, entry.path
                    )
                )
                bodies.append(entry.response)
        return Bodies(calls[0], calls[1], bodies[0], bodies[1])

    found = asyncio.run(run())
    daily = msgspec.json.decode(found.daily_body, type=models.PayloadCountsBreakdown)
    assert len(daily.counts or []) == 31, daily
    return found


# --- contenders ------------------------------------------------------------------------------

One = Callable[[], Awaitable[object]]


def raw_headers() -> dict[str, str]:
    return {
        "Authorization": f"Bearer {TOKEN}",
        "Accept": "application/json",
        "Accept-Version": ACCEPT_VERSION,
    }


def client_one(client: LosantClient, call: Call) -> One:
    kwargs = call.client_kwargs()
    method = client.instance_org.payload_counts_breakdown

    async def one() -> object:
        return await method(**kwargs)

    return one


def raw_one(
    session: aiohttp.ClientSession, url: str, call: Call, loads: Callable[[bytes], Any]
) -> One:
    target = url + call.path
    query = call.query

    async def one() -> object:
        async with session.get(target, params=query) as resp:
            if resp.status != 200:
                raise RuntimeError(f"status {resp.status}")
            return loads(await resp.read())

    return one


def raw_url_one(session: aiohttp.ClientSession, url: str, call: Call) -> One:
    """Raw aiohttp given the whole URL as one string: no query building at all (the
    strictest peer; a typed client must build the query from the arguments)."""
    target = url + call.path + "?" + urlencode(call.query)
    loads = typed_loads()

    async def one() -> object:
        async with session.get(target) as resp:
            if resp.status != 200:
                raise RuntimeError(f"status {resp.status}")
            return loads(await resp.read())

    return one


def typed_loads() -> Callable[[bytes], Any]:
    return msgspec.json.Decoder(models.PayloadCountsBreakdown).decode


async def concurrent(one: One, calls: int) -> None:
    """``calls`` calls, ``CONCURRENCY`` in flight all along."""

    async def worker(n: int) -> None:
        for _ in range(n):
            await one()

    per, extra = divmod(calls, CONCURRENCY)
    await asyncio.gather(*(worker(per + (i < extra)) for i in range(CONCURRENCY)))


async def sequential(one: One, calls: int) -> None:
    for _ in range(calls):
        await one()


class Timed(NamedTuple):
    wall: float  # seconds
    cpu: float  # this process's CPU seconds, user and system
    system: float  # the system (kernel) part of ``cpu``, as getrusage() splits it
    collections: int  # garbage-collector passes, all generations


def gc_passes() -> int:
    """Garbage-collector passes so far, all generations."""
    return sum(s["collections"] for s in gc.get_stats())


def system_time() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_stime


async def timed(run: Callable[[], Awaitable[None]]) -> Timed:
    gc.collect()
    passes = gc_passes()
    wall, cpu, system = time.perf_counter(), time.process_time(), system_time()
    await run()
    return Timed(
        time.perf_counter() - wall,
        time.process_time() - cpu,
        system_time() - system,
        gc_passes() - passes,
    )


# --- an instant in-process session (aiohttp replaced, here only) -------------------------------


class _InstantContent:
    """The parts of aiohttp's StreamReader a client reads a whole body with."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    async def read(self, n: int = -1) -> bytes:
        body, self._body = self._body, b""
        return body

    async def readany(self) -> bytes:
        return await self.read()

    def at_eof(self) -> bool:
        return not self._body

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self._body:
            yield await self.read()

    def iter_any(self) -> AsyncIterator[bytes]:
        return self._chunks()

    def iter_chunked(self, n: int) -> AsyncIterator[bytes]:
        return self._chunks()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()


class _InstantResponse:
    """The parts of aiohttp's ClientResponse a client uses; answers at once."""

    status = 200
    reason = "OK"
    ok = True

    def __init__(self, method: str, url: str, body: bytes, headers: CIMultiDictProxy[str]) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.content = _InstantContent(body)
        self._body = body

    async def read(self) -> bytes:
        return self._body

    async def text(self, encoding: str | None = None) -> str:
        return self._body.decode(encoding or "utf-8")

    async def json(self, **kwargs: Any) -> Any:
        return json.loads(self._body)

    def raise_for_status(self) -> None:
        pass

    def release(self) -> None:
        pass

    def close(self) -> None:
        pass

    async def __aenter__(self) -> _InstantResponse:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release()


class _InstantRequest:
    """Like aiohttp's request context manager: awaitable, or ``async with``."""

    def __init__(self, response: _InstantResponse) -> None:
        self._response = response

    async def _get(self) -> _InstantResponse:
        return self._response

    def __await__(self) -> Any:
        return self._get().__await__()

    async def __aenter__(self) -> _InstantResponse:
        return self._response

    async def __aexit__(self, *exc: object) -> None:
        self._response.release()


class InstantSession:
    """Stands in for ``aiohttp.ClientSession``: every request answers ``body`` at once, with
    no I/O. Only for measuring the client's own cost; tests use real servers."""

    def __init__(self, body: bytes) -> None:
        self._body = body
        self._headers = CIMultiDictProxy(
            CIMultiDict({"Content-Type": "application/json", "Content-Length": str(len(body))})
        )
        self.closed = False
        self.headers: CIMultiDict[str] = CIMultiDict()
        self.auth: aiohttp.BasicAuth | None = None

    def request(self, method: str, url: Any, **kwargs: Any) -> _InstantRequest:
        return _InstantRequest(_InstantResponse(method, str(url), self._body, self._headers))

    def get(self, url: Any, **kwargs: Any) -> _InstantRequest:
        return self.request("GET", url, **kwargs)

    _request = request

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> InstantSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def instant_client(body: bytes) -> LosantClient:
    session = cast(aiohttp.ClientSession, InstantSession(body))
    return LosantClient(TOKEN, base_url="http://bench.invalid", session=session, max_concurrency=64)


def instant_raw_one(body: bytes, call: Call) -> One:
    session = cast(aiohttp.ClientSession, InstantSession(body))
    return raw_one(session, "http://bench.invalid", call, typed_loads())


# --- the measurements ------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    rounds: int
    throughput_calls: int  # per contender per round
    big_calls: int
    instant_calls: int
    callgrind_calls: tuple[int, int]


QUICK = Plan(
    rounds=2, throughput_calls=128, big_calls=1, instant_calls=200, callgrind_calls=(64, 128)
)
FULL = Plan(
    rounds=21, throughput_calls=1280, big_calls=6, instant_calls=3000, callgrind_calls=(256, 768)
)


async def measure(url: str, bodies: Bodies, plan: Plan) -> list[Result]:
    daily, hourly = bodies.daily, bodies.hourly
    results: list[Result] = []
    async with (
        LosantClient(TOKEN, base_url=url, max_concurrency=CONCURRENCY) as client,
        aiohttp.ClientSession(headers=raw_headers()) as session,
    ):
        ours = client_one(client, daily)
        raw = raw_one(session, url, daily, typed_loads())
        raw_url = raw_url_one(session, url, daily)
        # Warm: connections open, models loaded, caches filled; and all agree.
        first = await ours()
        assert first == await raw() == await raw_url(), "the contenders decode differently"
        for one in (ours, raw, raw_url):
            await concurrent(one, CONCURRENCY * 2)

        n = plan.throughput_calls
        cpu: dict[str, list[float]] = {"ours": [], "raw": [], "raw_url": []}
        system: dict[str, list[float]] = {"ours": [], "raw": [], "raw_url": []}
        passes = {"ours": 0, "raw": 0, "raw_url": 0}

        def throughput(name: str, one: One) -> Callable[[], Awaitable[float]]:
            async def run() -> float:
                t = await timed(lambda: concurrent(one, n))
                passes[name] += t.collections
                cpu[name].append(t.cpu)
                system[name].append(t.system)
                return t.wall

            return run

        contenders = {"ours": ours, "raw": raw, "raw_url": raw_url}
        walls = await paired_async(
            {name: throughput(name, one) for name, one in contenders.items()}, plan.rounds
        )
        # Throughput ratio = raw time / client time, round by round.
        cpu_ours = statistics.median(cpu["ours"]) / n * 1e6
        cpu_raw = statistics.median(cpu["raw"]) / n * 1e6
        gc_ours, gc_raw = (passes[k] / (n * plan.rounds) * 1000 for k in ("ours", "raw"))
        kernel = {k: sum(v) / (n * plan.rounds) * 1e6 for k, v in system.items()}
        results.append(
            Result(
                "calls: client throughput / raw aiohttp + msgspec (31 rows, 64 in flight)",
                median_ratio(walls["raw"], walls["ours"]),
                "x",
                0.95,
                "higher",
                f"{n} calls a round, {spread(walls['raw'], walls['ours'])}; client process CPU "
                f"{cpu_ours:.0f} us/call vs raw {cpu_raw:.0f} us/call; garbage-collector passes "
                f"per 1000 calls {gc_ours:.1f} vs {gc_raw:.1f}",
            )
        )
        results.append(
            Result(
                "calls: client CPU per call / raw aiohttp + msgspec (same rounds)",
                median_ratio(cpu["ours"], cpu["raw"]),
                "x",
                None,
                "lower",
                "this process's CPU time: the client side alone; of it, system (kernel) "
                f"time {kernel['ours']:.0f} us/call vs raw {kernel['raw']:.0f} us/call "
                "(all rounds; getrusage's split, sampled at the kernel's tick)",
            )
        )
        results.append(
            Result(
                "calls: client throughput / raw aiohttp + msgspec given a prebuilt URL string",
                median_ratio(walls["raw_url"], walls["ours"]),
                "x",
                None,
                "higher",
                f"same rounds; raw without building the query (params=) at all: CPU "
                f"{statistics.median(cpu['raw_url']) / n * 1e6:.0f} us/call",
            )
        )

        # The 1 MB call, one at a time, three contenders.
        big_ours = client_one(client, hourly)
        big_raw = raw_one(session, url, hourly, typed_loads())
        big_json = raw_one(session, url, hourly, json.loads)
        assert await big_ours() == await big_raw()
        await big_json()
        m = plan.big_calls
        big_cpu: dict[str, list[float]] = {"ours": [], "raw": [], "json": []}

        def seq(name: str, one: One) -> Callable[[], Awaitable[float]]:
            async def run() -> float:
                t = await timed(lambda: sequential(one, m))
                big_cpu[name].append(t.cpu)
                return t.wall

            return run

        big = await paired_async(
            {
                "ours": seq("ours", big_ours),
                "raw": seq("raw", big_raw),
                "json": seq("json", big_json),
            },
            plan.rounds,
        )
        mb = len(bodies.hourly_body) / 1e6
        per_call = statistics.median(big["ours"]) / m * 1e3
        results.append(
            Result(
                f"1 MB call: client time / raw aiohttp + msgspec ({mb:.2f} MB, hourly)",
                median_ratio(big["ours"], big["raw"]),
                "x",
                1.05,
                "lower",
                f"{m} calls a round, one at a time, {spread(big['ours'], big['raw'])}; "
                f"client {per_call:.1f} ms/call; by this process's CPU time "
                f"{median_ratio(big_cpu['ours'], big_cpu['raw']):.2f}x",
            )
        )
        results.append(
            Result(
                "1 MB call: raw aiohttp + json.loads time / client time",
                median_ratio(big["json"], big["ours"]),
                "x",
                2.0,
                "higher",
                f"{spread(big['json'], big['ours'])}; by this process's CPU time "
                f"{median_ratio(big_cpu['json'], big_cpu['ours']):.2f}x",
            )
        )

    # The client's own cost: aiohttp replaced by an instant session.
    results.append(await own_cost(bodies, plan))
    return results


async def own_cost(bodies: Bodies, plan: Plan) -> Result:
    call = bodies.daily
    async with instant_client(bodies.daily_body) as client:
        ours = client_one(client, call)
        raw = instant_raw_one(bodies.daily_body, call)
        assert await ours() == await raw()
        await sequential(ours, 200)
        await sequential(raw, 200)
        k = plan.instant_calls

        def seq(one: One) -> Callable[[], Awaitable[float]]:
            async def run() -> float:
                return (await timed(lambda: sequential(one, k))).cpu

            return run

        t = await paired_async({"ours": seq(ours), "raw": seq(raw)}, plan.rounds)
    extra = [(a - b) / k * 1e6 for a, b in zip(t["ours"], t["raw"], strict=True)]
    raw_us = statistics.median(t["raw"]) / k * 1e6
    return Result(
        "calls: the client's own CPU per call (instant in-process session)",
        statistics.median(extra),
        "us/call",
        None,
        "lower",
        f"CPU time of the client less the same decode through the same session "
        f"({raw_us:.0f} us/call), {k} sequential calls a round, {len(extra)} rounds, "
        f"{min(extra):.0f}-{max(extra):.0f}",
    )


# --- instruction counts (--callgrind) --------------------------------------------------------


def count_child(spec: dict[str, Any]) -> None:
    """Child process body: warm up, then ``spec['calls']`` calls, then exit."""
    call = Call(**{**spec["call"], "query": [tuple(p) for p in spec["call"]["query"]]})
    body = Path(spec["body"]).read_bytes()
    calls = int(spec["calls"])

    async def run() -> None:
        if spec["transport"] == "instant":
            if spec["who"] == "client":
                async with instant_client(body) as client:
                    one = client_one(client, call)
                    await sequential(one, 50)
                    await sequential(one, calls)
            else:
                one = instant_raw_one(body, call)
                await sequential(one, 50)
                await sequential(one, calls)
            return
        url = spec["url"]
        async with (
            LosantClient(TOKEN, base_url=url, max_concurrency=CONCURRENCY) as client,
            aiohttp.ClientSession(headers=raw_headers()) as session,
        ):
            if spec["who"] == "client":
                one = client_one(client, call)
            else:
                one = raw_one(session, url, call, typed_loads())
            await concurrent(one, CONCURRENCY * 2)
            await concurrent(one, calls)

    asyncio.run(run())


def per_call_instructions(spec: dict[str, Any], counts: tuple[int, int]) -> float:
    irs = []
    for calls in counts:
        argv = [sys.executable, __file__, "--count-child", json.dumps({**spec, "calls": calls})]
        irs.append(instructions(argv))
    return (irs[1] - irs[0]) / (counts[1] - counts[0])


def callgrind_results(url: str, bodies: Bodies, body_file: Path, plan: Plan) -> list[Result]:
    call = bodies.daily
    base = {"call": call.__dict__, "body": str(body_file), "url": url}
    counts = plan.callgrind_calls
    instant = {
        who: per_call_instructions({**base, "transport": "instant", "who": who}, counts)
        for who in ("client", "raw")
    }
    http = {
        who: per_call_instructions({**base, "transport": "http", "who": who}, counts)
        for who in ("client", "raw")
    }
    return [
        Result(
            "calls: the client's own instructions per call (instant session, callgrind)",
            instant["client"] - instant["raw"],
            "instr/call",
            None,
            "lower",
            f"client {instant['client']:,.0f} less raw decode {instant['raw']:,.0f}; "
            f"calls {counts[1]} less calls {counts[0]}, whole processes",
        ),
        Result(
            "calls: raw aiohttp + msgspec / client, instructions per call (callgrind)",
            http["raw"] / http["client"],
            "x",
            0.95,
            "higher",
            f"client {http['client']:,.0f}, raw {http['raw']:,.0f} instr/call in the client "
            "process, 64 in flight against the peer server",
        ),
    ]


# --- entry points ----------------------------------------------------------------------------


def results(quick: bool, callgrind: bool = False) -> list[Result]:
    plan = QUICK if quick else FULL
    bodies = capture()
    with tempfile.TemporaryDirectory() as tmp:
        daily_file, hourly_file = Path(tmp, "daily.json"), Path(tmp, "hourly.json")
        daily_file.write_bytes(bodies.daily_body)
        hourly_file.write_bytes(bodies.hourly_body)
        with PeerServer(TOKEN, daily_file, hourly_file) as url:
            found = asyncio.run(measure(url, bodies, plan))
            if callgrind:
                if not callgrind_available():
                    raise RuntimeError("--callgrind needs valgrind on PATH")
                found += callgrind_results(url, bodies, daily_file, plan)
    return found


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--count-child":
        count_child(json.loads(sys.argv[2]))
    else:
        script_main(__doc__, results)
