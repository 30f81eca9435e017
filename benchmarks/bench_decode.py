"""Decode speed of a bulk usage response: the client's typed path against its peers.

Builds a ~1 MB ``payloadCountsBreakdown``-shaped body and times, in the same run:
the client's own decode (``Transport.decoder``: a cached msgspec Decoder for
``models.PayloadCountsBreakdown``), ``json.loads`` (untyped dicts, as Losant's official
client returns) and ``json.loads`` + building the same models from the dicts
(``msgspec.convert``). Also times ``import losant_async.models``.

Then the cost of lenient decoding, in paired alternating rounds (medians of the per-round
times and ratios):

- a good body through ``Transport._decode_model`` (the strict decode inside the hook that
  catches a mismatch) against the bare ``Decoder.decode``: the hook must cost nothing;
- the same body with one bad value (a string count in one row), which takes the lenient
  path (decode to builtins, repair, convert), against ``json.loads`` of it;
- the same with a string count in every row, the lenient path's worst case.

``python benchmarks/bench_decode.py [--quick]``
"""

from __future__ import annotations

import gc
import json
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._results import Result, script_main


def body(days: int, bad_rows: range = range(0)) -> bytes:
    counts: list[dict[str, Any]] = [
        {"date": f"2024-01-{1 + d % 28:02d}T{d % 24:02d}:00:00.000Z", "value": d * 37 % 1000}
        for d in range(days)
    ]
    for row in bad_rows:
        counts[row]["value"] = "n/a"
    return json.dumps(
        {"start": "2024-01-01T00:00:00.000Z", "end": "2024-02-01T00:00:00.000Z", "counts": counts}
    ).encode()


def best(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def paired(a: Callable[[], Any], b: Callable[[], Any], rounds: int) -> tuple[float, float, float]:
    """Median time of ``a``, of ``b`` and of the per-round ratio b/a; the order alternates
    each round so that neither side always runs on a warmer cache."""
    ta: list[float] = []
    tb: list[float] = []
    a(), b()  # warm both before timing
    # As timeit does: no collection inside a timing, where it would land on one side.
    gc.disable()
    try:
        for i in range(rounds):
            for fn, out in ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta)):
                gc.collect()
                t = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t)
    finally:
        gc.enable()
    ratio = statistics.median(y / x for x, y in zip(ta, tb, strict=True))
    return statistics.median(ta), statistics.median(tb), ratio


def results(quick: bool, callgrind: bool = False) -> list[Result]:
    """The figures for ``python -m benchmarks``."""
    repeat = 3 if quick else 15
    rounds = 5 if quick else 101

    out = subprocess.run(
        [sys.executable, "-c", "import time;t=time.perf_counter();"
         "import losant_async.models;print(time.perf_counter()-t)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    print(f"import losant_async.models: {float(out.stdout) * 1000:.1f} ms (fresh process)")

    from losant_async import LosantClient, LosantDecodeWarning, models
    from losant_async._encoding import EncodedRequest
    from losant_async._generated.resources.instance_org import _PAYLOAD_COUNTS_BREAKDOWN
    from losant_async._transport import Response

    data = body(16_000)
    client = LosantClient("t")
    transport = client._transport
    decoder = transport.decoder("PayloadCountsBreakdown")
    ours = best(lambda: decoder.decode(data), repeat)
    plain = best(lambda: json.loads(data), repeat)
    converted = best(
        lambda: msgspec.convert(json.loads(data), models.PayloadCountsBreakdown), repeat
    )
    mb = len(data) / 1e6
    print(f"body: {mb:.2f} MB")
    print(f"client typed decode     {ours * 1000:8.2f} ms  {mb / ours:7.1f} MB/s")
    print(f"json.loads (dicts)      {plain * 1000:8.2f} ms  {mb / plain:7.1f} MB/s")
    print(f"json.loads + convert    {converted * 1000:8.2f} ms  {mb / converted:7.1f} MB/s")
    print(f"ratio json.loads / client typed: {plain / ours:.2f}x")

    action = _PAYLOAD_COUNTS_BREAKDOWN
    request = EncodedRequest("GET", action.path, "", {}, None)
    good = Response(200, {}, data)
    bad_data = body(16_000, bad_rows=range(8_000, 8_001))
    all_bad_data = body(16_000, bad_rows=range(16_000))
    bad = Response(200, {}, bad_data)
    warnings.simplefilter("ignore", LosantDecodeWarning)  # the repair is expected here
    repaired = transport._decode_model(action, request, bad)
    assert repaired.counts[8_000].value is None and len(repaired.counts) == 16_000

    print(f"\nlenient decoding, {rounds} paired alternating rounds, medians:")
    bare, hooked, ratio = paired(
        lambda: decoder.decode(data), lambda: transport._decode_model(action, request, good), rounds
    )
    print(f"good body, bare Decoder.decode        {bare * 1000:8.2f} ms")
    print(f"good body, through the hook           {hooked * 1000:8.2f} ms  ratio {ratio:.3f}x")
    hook_ratio = ratio
    loads, lenient, ratio = paired(
        lambda: json.loads(bad_data), lambda: transport._decode_model(action, request, bad), rounds
    )
    print(f"one bad value, json.loads (dicts)     {loads * 1000:8.2f} ms")
    print(f"one bad value, lenient typed decode   {lenient * 1000:8.2f} ms  ratio {ratio:.2f}x")
    one_bad_ratio = ratio
    all_bad = Response(200, {}, all_bad_data)
    loads, lenient, ratio = paired(
        lambda: json.loads(all_bad_data),
        lambda: transport._decode_model(action, request, all_bad),
        rounds,
    )
    print(f"every row bad, json.loads (dicts)     {loads * 1000:8.2f} ms")
    print(f"every row bad, lenient typed decode   {lenient * 1000:8.2f} ms  ratio {ratio:.2f}x")
    return [
        Result(
            f"decode: json.loads time / client typed decode time ({mb:.2f} MB, in memory)",
            plain / ours,
            "x",
            notes=f"best of {repeat} each",
        ),
        Result(
            "decode: a good body through the lenient hook / bare Decoder.decode",
            hook_ratio,
            "x",
            notes=f"median of {rounds} paired alternating rounds",
        ),
        Result(
            "decode: one bad value repaired, time / json.loads",
            one_bad_ratio,
            "x",
            notes=f"median of {rounds} paired alternating rounds",
        ),
    ]


if __name__ == "__main__":
    script_main(__doc__, results)
