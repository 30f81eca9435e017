"""Server-sent events: decoding throughput and memory, against aiohttp-sse-client 0.2.1.

Usage: ``python benchmarks/bench_sse.py [--quick] [--events N]``

The input is an in-memory stream shaped like Losant's ``mqttSubscriptionStream``: events of
about 140 bytes (``event: mqttMessage`` + ``data: {"topic": ..., "message": "<JSON text>"}``)
with, every 20 messages, a keep-alive alternating between a ``:keepalive`` comment and an
``event: keepAlive`` event. It is cut into 4 KiB chunks, as socket reads deliver it. Every
parser gets the same chunks; events/s counts the events it dispatches (messages and keepAlive
events; the counts are checked equal, and the events too on a short stream). Each figure is
the best of many short runs, the runs of all rows interleaved so that a busy machine slows
them alike; wall clock, no event-loop work (nothing ever waits for I/O).

Parser only, the chunks in a list:

1. ``SSEDecoder.feed()`` on every chunk (``max_event_size`` = 1 MiB, as a client would set
   it): UTF-8 decoding, line splitting, field parsing, ``ServerSentEvent`` objects.
2. (1) plus, for every ``mqttMessage`` event, ``msgspec.json.Decoder(MqttMessage)`` turning
   ``data`` into a typed ``MqttMessage(topic, message)``.
3. aiohttp-sse-client's own parser: its real ``EventSource.__anext__`` (per-line UTF-8
   decode, ``rstrip``, ``split(':')``, ``_process_field``, ``_dispatch_event`` building its
   ``MessageEvent``), consumed by ``async for`` as in real use. Only its socket is replaced:
   ``response.content``, normally aiohttp's ``StreamReader`` iterated with ``readline``, is
   an in-memory async iterator yielding the same LF-terminated lines, split from the same
   chunks inside the timed loop with ``bytes.split``. That is cheaper than ``readline``, so
   this row is a lower bound of that parser's cost: it favours the baseline.

Through aiohttp's real ``StreamReader``, fed the same chunks beforehand (no socket):

2r. (2), the decoder reading the reader's buffered chunks with ``readchunk()``, one 4 KiB
    chunk per await.
3r. (3) with ``response.content`` the ``StreamReader`` itself: its ``readline`` path, the
    way that library runs against a live response.

End to end over TCP (a local aiohttp server writes the same stream; the client reads it
from a real socket, event loop and all):

4. ``client.application.mqtt_subscription_stream(...)``: the client's ``EventStream``,
   typed ``MqttPublishBody`` messages, keep-alives filtered out, counters kept.
5. aiohttp-sse-client's ``EventSource`` on its own aiohttp session, parse only.

Both are timed from the open connection to the last event; events/s counts every event
the stream dispatches, as above. A first untimed pass of each warms up (the client loads its
models on its first event); then paired rounds in alternating order, medians as above.

Memory: (1) runs over ``--events`` events (1M by default; results discarded), under
``tracemalloc``; the peak traced memory over the first 100k events (or a tenth of the run
when shorter) is compared with the peak over the rest, which shows memory staying flat.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import StreamReader
from aiohttp.base_protocol import BaseProtocol

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp_sse_client.client import EventSource

from benchmarks._results import Result
from losant_async._sse_decoder import SSEDecoder

CHUNK = 4096
MAX_EVENT_SIZE = 1 << 20

Run = Callable[[], tuple[int, float]]  # one timed pass: (events, seconds)


class MqttMessage(msgspec.Struct):
    """The ``data`` of an ``mqttMessage`` event."""

    topic: str
    message: str


def build_stream(messages: int) -> tuple[bytes, int]:
    """Return the stream bytes and the number of events it dispatches."""
    parts: list[bytes] = []
    events = 0
    for i in range(messages):
        if i % 20 == 19:
            if i % 40 == 19:
                parts.append(b":keepalive\n\n")
            else:
                parts.append(b'event: keepAlive\ndata: {"time":"2024-05-01T12:00:00.000Z"}\n\n')
                events += 1
        reading = {"t": 21.5 + i % 7, "h": 40.25, "unit": "C", "ts": 1714564800123 + i, "n": i}
        data = {"topic": "plant/line1/temp", "message": msgspec.json.encode(reading).decode()}
        parts.append(b"event: mqttMessage\ndata: " + msgspec.json.encode(data) + b"\n\n")
        events += 1
    return b"".join(parts), events


def cut(stream: bytes) -> list[bytes]:
    return [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]


# --- ours ------------------------------------------------------------------------------------


def ours_parse(chunks: list[bytes]) -> Run:
    def run() -> tuple[int, float]:
        decoder = SSEDecoder(max_event_size=MAX_EVENT_SIZE)
        count = 0
        start = time.perf_counter()
        for chunk in chunks:
            count += len(decoder.feed(chunk))
        return count, time.perf_counter() - start

    return run


def ours_typed(chunks: list[bytes]) -> Run:
    def run() -> tuple[int, float]:
        decoder = SSEDecoder(max_event_size=MAX_EVENT_SIZE)
        decode = msgspec.json.Decoder(MqttMessage).decode
        count = 0
        start = time.perf_counter()
        for chunk in chunks:
            for event in decoder.feed(chunk):
                if event.event == "mqttMessage":
                    decode(event.data)
                count += 1
        return count, time.perf_counter() - start

    return run


def _reader(chunks: list[bytes]) -> StreamReader:
    """An aiohttp StreamReader holding ``chunks`` as received data, then EOF."""
    loop = asyncio.get_running_loop()
    # A buffer limit above the whole stream: no flow control without a transport.
    limit = max(2**16, sum(map(len, chunks)))
    reader = StreamReader(BaseProtocol(loop), limit, loop=loop)
    for chunk in chunks:
        reader.feed_data(chunk)
    reader.feed_eof()
    return reader


def ours_typed_reader(chunks: list[bytes]) -> Run:
    async def consume() -> tuple[int, float]:
        reader = _reader(chunks)
        decoder = SSEDecoder(max_event_size=MAX_EVENT_SIZE)
        decode = msgspec.json.Decoder(MqttMessage).decode
        count = 0
        start = time.perf_counter()
        async for chunk, _ in reader.iter_chunks():
            for event in decoder.feed(chunk):
                if event.event == "mqttMessage":
                    decode(event.data)
                count += 1
        return count, time.perf_counter() - start

    return lambda: asyncio.run(consume())


# --- aiohttp-sse-client ----------------------------------------------------------------------


class _Lines:
    """Stands in for aiohttp's StreamReader: ``async for`` yields LF-terminated lines."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = iter(chunks)
        self._lines: Iterator[bytes] = iter(())
        self._rest = b""

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> bytes:
        while True:
            line = next(self._lines, None)
            if line is not None:
                return line
            chunk = next(self._chunks, None)
            if chunk is None:
                raise StopAsyncIteration
            parts = (self._rest + chunk).split(b"\n")
            self._rest = parts.pop()
            self._lines = iter([part + b"\n" for part in parts])


class _Response:
    status = 200

    def __init__(self, content: object) -> None:
        self.content = content


def _source(content: object) -> EventSource:
    source = EventSource("http://bench.invalid/stream", session=object())
    source._response = _Response(content)
    source._origin = "http://bench.invalid"
    return source


async def _consume(source: EventSource, expected: int) -> tuple[int, float]:
    count = 0
    start = time.perf_counter()
    async for _ in source:
        count += 1
        if count == expected:  # one more __anext__ would start its reconnect logic
            break
    return count, time.perf_counter() - start


def _drive(coro: Coroutine[Any, Any, tuple[int, float]]) -> tuple[int, float]:
    # Nothing suspends, so the coroutine runs to its end on the first send().
    try:
        coro.send(None)
    except StopIteration as done:
        result: tuple[int, float] = done.value
        return result
    coro.close()
    raise RuntimeError("the parser tried to wait for I/O")


def theirs_parse(chunks: list[bytes], expected: int) -> Run:
    return lambda: _drive(_consume(_source(_Lines(chunks)), expected))


def theirs_reader(chunks: list[bytes], expected: int) -> Run:
    async def consume() -> tuple[int, float]:
        return await _consume(_source(_reader(chunks)), expected)

    return lambda: asyncio.run(consume())


def cross_check(stream: bytes) -> None:
    """Both parsers see the same events on the same chunks."""
    chunks = cut(stream)
    decoder = SSEDecoder()
    ours = [(e.event, e.data) for c in chunks for e in decoder.feed(c)]

    async def collect() -> list[tuple[str, str]]:
        got: list[tuple[str, str]] = []
        async for event in _source(_reader(chunks)):
            got.append((event.type, event.data))
            if len(got) == len(ours):
                break
        return got

    assert asyncio.run(collect()) == ours, "the parsers disagree on the benchmark stream"


# --- end to end over TCP ----------------------------------------------------------------------

APP = "5f0c0c0c0c0c0c0c0c0c0c0c"


async def _serve(stream: bytes) -> tuple[Any, str]:
    from aiohttp import web

    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for i in range(0, len(stream), 1 << 16):
            await resp.write(stream[i : i + (1 << 16)])
        return resp

    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def _ours_tcp(url: str, messages: int) -> float:
    """Seconds from an open connection to the last message (set-up is not timed)."""
    from losant_async import LosantClient

    async with LosantClient("t", base_url=url) as client:
        stream = client.application.mqtt_subscription_stream(application_id=APP, topic="#")
        count = 0
        async with stream:
            start = time.perf_counter()
            async for message in stream:
                count += 1
                if count == messages:
                    assert message.topic == "plant/line1/temp"
                    break
            return time.perf_counter() - start


async def _theirs_tcp(url: str, events: int) -> float:
    count = 0
    async with EventSource(url + "/stream") as source:
        start = time.perf_counter()
        async for _ in source:
            count += 1
            if count == events:
                break
        return time.perf_counter() - start


def end_to_end(messages: int, rounds: int) -> tuple[float, float, float, int]:
    """Median events/s of (4) and (5), the median of their paired ratios, and the events
    the stream dispatches."""
    stream, events = build_stream(messages)

    async def run() -> tuple[list[float], list[float]]:
        runner, url = await _serve(stream)
        ours: list[float] = []
        theirs: list[float] = []
        try:
            await _ours_tcp(url, messages)  # warm-up, untimed
            await _theirs_tcp(url, events)
            for i in range(rounds):
                for first in (i % 2 == 0, i % 2 != 0):
                    gc.collect()
                    if first:
                        ours.append(await _ours_tcp(url, messages))
                    else:
                        theirs.append(await _theirs_tcp(url, events))
        finally:
            await runner.cleanup()
        return ours, theirs

    ours, theirs = asyncio.run(run())
    ratio = statistics.median(t / o for o, t in zip(ours, theirs, strict=True))
    return events / statistics.median(ours), events / statistics.median(theirs), ratio, events


# --- measuring -------------------------------------------------------------------------------


def paired_rounds(
    runs: dict[str, Run], events: int, rounds: int
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Median events/s of each row, and each row's time in every round (paired by index).
    Rows run in one order in even rounds and in the reverse order in odd ones."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    order = list(runs)
    for i in range(rounds):
        for name in order if i % 2 == 0 else reversed(order):
            gc.collect()
            count, elapsed = runs[name]()
            assert count == events, (name, count, events)
            times[name].append(elapsed)
    return {name: events / statistics.median(t) for name, t in times.items()}, times


def paired_ratio(times: dict[str, list[float]], ours: str, theirs: str) -> float:
    """Median over the rounds of theirs/ours time: how many times faster ours is."""
    return statistics.median(t / o for o, t in zip(times[ours], times[theirs], strict=True))


def memory(chunks: list[bytes], total: int, checkpoint: int) -> tuple[int, int, int]:
    """Peak traced bytes up to ``checkpoint`` events and after it, and events decoded."""
    decoder = SSEDecoder(max_event_size=MAX_EVENT_SIZE)
    gc.collect()
    tracemalloc.start()
    count = 0
    early_peak = -1
    while count < total:
        for chunk in chunks:
            count += len(decoder.feed(chunk))
            if early_peak < 0 and count >= checkpoint:
                early_peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.reset_peak()
            if count >= total:
                break
    late_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return early_peak, late_peak, count


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description="SSE decoding benchmark (see the docstring)")
    parser.add_argument("--quick", action="store_true", help="a small run (~50k events)")
    parser.add_argument("--events", type=int, help="events in the memory run (default 1M)")
    args = parser.parse_args(argv)
    # Many short rounds in alternating order: the rows of a round run at the same machine
    # speed, even on a host whose speed drifts.
    messages, rounds = (2_000, 5) if args.quick else (20_000, 15)
    total = args.events or (20_000 if args.quick else 1_000_000)

    stream, events = build_stream(messages)
    chunks = cut(stream)
    cross_check(build_stream(500)[0])
    rows = {
        "(1)  ours, parse only": ours_parse(chunks),
        "(2)  ours + msgspec typed": ours_typed(chunks),
        "(3)  aiohttp-sse-client 0.2.1, parse only": theirs_parse(chunks, events),
        "(2r) ours + typed, via StreamReader": ours_typed_reader(chunks),
        "(3r) aiohttp-sse-client, via StreamReader": theirs_reader(chunks, events),
    }
    rates, times = paired_rounds(rows, events, rounds)
    one, two, three, two_r, three_r = rows

    print(
        f"SSE decoding: {events:,} events, {len(stream) / events:.0f} B/event, "
        f"{len(stream) / 1e6:.1f} MB in {len(chunks):,} chunks of {CHUNK} B, "
        f"medians of {rounds} paired rounds"
    )
    print(f"{'':44}{'events/s':>12}{'us/event':>10}")
    for name, rate in rates.items():
        print(f"{name:44}{rate:12,.0f}{1e6 / rate:10.2f}")
    typed = paired_ratio(times, two, three)
    goal = "met" if typed >= 5 else "NOT met"
    print(f"ratio (1)/(3):   {paired_ratio(times, one, three):5.1f}x")
    print(f"ratio (2)/(3):   {typed:5.1f}x  (goal >= 5x: {goal})")
    print(f"ratio (2r)/(3r): {paired_ratio(times, two_r, three_r):5.1f}x")

    ours_tcp, theirs_tcp, tcp_ratio, tcp_events = end_to_end(messages, rounds)
    print(f"end to end over TCP, {tcp_events:,} events, medians of {rounds} paired rounds:")
    print(f"{'(4)  losant_async stream, typed':44}{ours_tcp:12,.0f}{1e6 / ours_tcp:10.2f}")
    print(f"{'(5)  aiohttp-sse-client EventSource':44}{theirs_tcp:12,.0f}{1e6 / theirs_tcp:10.2f}")
    goal = "met" if tcp_ratio >= 8 else "NOT met"
    print(f"ratio (4)/(5):   {tcp_ratio:5.1f}x  (goal >= 8x: {goal})")

    checkpoint = min(100_000, max(1, total // 10))
    early, late, count = memory(chunks, total, checkpoint)
    print(
        f"memory, (1) over {count:,} events, tracemalloc peak: "
        f"{early / 1024:.1f} KiB over the first {checkpoint:,}, "
        f"{late / 1024:.1f} KiB over the rest"
    )
    return [
        Result(
            "SSE end to end: client typed stream / aiohttp-sse-client EventSource",
            tcp_ratio,
            "x",
            8.0,
            "higher",
            f"{tcp_events:,} events over TCP, medians of {rounds} paired rounds; "
            f"{ours_tcp:,.0f} vs {theirs_tcp:,.0f} events/s",
        ),
        Result(
            "SSE parse + typed decode / aiohttp-sse-client parse, in memory",
            typed,
            "x",
            notes=f"medians of {rounds} paired rounds",
        ),
    ]


def results(quick: bool, callgrind: bool = False) -> list[Result]:
    """The figures for ``python -m benchmarks``."""
    return main(["--quick"] if quick else [])


if __name__ == "__main__":
    main()
