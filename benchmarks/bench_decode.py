"""Decode speed of a bulk usage response: the client's typed path against its peers.

Builds a ~1 MB ``payloadCountsBreakdown``-shaped body and times, in the same run:
the client's own decode (``Transport.decoder``: a cached msgspec Decoder for
``models.PayloadCountsBreakdown``), ``json.loads`` (untyped dicts, as Losant's official
client returns) and ``json.loads`` + building the same models from the dicts
(``msgspec.convert``). Also times ``import losant_async.models``.

``python benchmarks/bench_decode.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

if __package__ in (None, ""):  # run as a script from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._results import Result


def body(days: int) -> bytes:
    counts = [
        {"date": f"2024-01-{1 + d % 28:02d}T{d % 24:02d}:00:00.000Z", "value": d * 37 % 1000}
        for d in range(days)
    ]
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


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    repeat = 3 if args.quick else 15

    out = subprocess.run(
        [sys.executable, "-c", "import time;t=time.perf_counter();"
         "import losant_async.models;print(time.perf_counter()-t)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    print(f"import losant_async.models: {float(out.stdout) * 1000:.1f} ms (fresh process)")

    from losant_async import LosantClient, models

    data = body(16_000)
    client = LosantClient("t")
    decoder = client._transport.decoder("PayloadCountsBreakdown")
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
    return [
        Result(
            f"decode: json.loads time / client typed decode time ({mb:.2f} MB, in memory)",
            plain / ours,
            "x",
            notes=f"best of {repeat} each",
        )
    ]


def results(quick: bool, callgrind: bool = False) -> list[Result]:
    """The figures for ``python -m benchmarks``."""
    return main(["--quick"] if quick else [])


if __name__ == "__main__":
    main()
