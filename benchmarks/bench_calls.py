"""A usage scrape end to end: the client against plain-aiohttp peers, same server, same run.

The local Losant server runs in a child process, so this process's CPU time
(``time.process_time``) is the client side alone. Each contender fetches
``instanceOrg.payloadCountsBreakdown`` (hourly, every day the server holds) for every org
of the instance, 16 at a time:

- ``losant_async``: ``client.instance_org.payload_counts_breakdown``, typed Structs;
- ``aiohttp+json``: one shared session, ``json.loads`` into dicts (the floor for dicts);
- ``aiohttp+msgspec``: one shared session, the same typed decode (the floor for Structs:
  the gap to losant_async is the cost of its own code: encoding, limits, retries);
- ``new connection per call``: a session per request and ``json.loads``, as Losant's
  official client does (synchronously, too; here it at least overlaps).

``python benchmarks/bench_calls.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp
import anyio
import msgspec

from losant_async import API_VERSION, LosantClient, models
from losant_async.testing import FakeLosant

TOKEN = "bench-token"
CONCURRENCY = 16


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(orgs: int, days: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "losant_async.testing", "--port", str(port), "--token", TOKEN]
    cmd += ["--orgs", str(orgs), "--sandboxes", "0", "--apps-per-org", "1", "--days", str(days)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("the local server did not start")


Run = Callable[[list[str]], Awaitable[int]]


def contenders(url: str, instance_id: str, start: int) -> dict[str, Run]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Accept-Version": f"^{API_VERSION}"}
    query = {"start": str(start), "resolution": "3600000"}

    def path(org_id: str) -> str:
        return f"{url}/instances/{instance_id}/orgs/{org_id}/payloadCountsBreakdown"

    async def gather(org_ids: list[str], one: Callable[[str], Awaitable[int]]) -> int:
        limiter = anyio.CapacityLimiter(CONCURRENCY)
        total = 0

        async def run(org_id: str) -> None:
            nonlocal total
            async with limiter:
                total += await one(org_id)

        async with anyio.create_task_group() as tg:
            for org_id in org_ids:
                tg.start_soon(run, org_id)
        return total

    async def client_run(org_ids: list[str]) -> int:
        async with LosantClient(TOKEN, base_url=url, max_concurrency=CONCURRENCY) as client:

            async def one(org_id: str) -> int:
                usage = await client.instance_org.payload_counts_breakdown(
                    instance_id=instance_id, org_id=org_id, start=start, resolution=3600000
                )
                return sum(c.value or 0 for c in usage.counts or [])

            return await gather(org_ids, one)

    async def aiohttp_json(org_ids: list[str]) -> int:
        async with aiohttp.ClientSession(headers=headers) as session:

            async def one(org_id: str) -> int:
                async with session.get(path(org_id), params=query) as resp:
                    data = json.loads(await resp.read())
                return sum(c.get("value", 0) for c in data["counts"])

            return await gather(org_ids, one)

    async def aiohttp_msgspec(org_ids: list[str]) -> int:
        decoder = msgspec.json.Decoder(models.PayloadCountsBreakdown)
        async with aiohttp.ClientSession(headers=headers) as session:

            async def one(org_id: str) -> int:
                async with session.get(path(org_id), params=query) as resp:
                    usage = decoder.decode(await resp.read())
                return sum(c.value or 0 for c in usage.counts or [])

            return await gather(org_ids, one)

    async def per_call(org_ids: list[str]) -> int:
        async def one(org_id: str) -> int:
            async with (
                aiohttp.ClientSession(headers=headers) as session,
                session.get(path(org_id), params=query) as resp,
            ):
                data = json.loads(await resp.read())
            return sum(c.get("value", 0) for c in data["counts"])

        return await gather(org_ids, one)

    return {
        "losant_async": client_run,
        "aiohttp+json": aiohttp_json,
        "aiohttp+msgspec": aiohttp_msgspec,
        "new connection per call": per_call,
    }


async def measure(run: Run, org_ids: list[str]) -> tuple[float, float, int]:
    cpu, wall = time.process_time(), time.perf_counter()
    total = await run(org_ids)
    return time.process_time() - cpu, time.perf_counter() - wall, total


async def bench(url: str, repeat: int) -> None:
    async with LosantClient(TOKEN, base_url=url) as client:
        # The server's seeded ids are known without asking it (same seed, same ids).
        instance_id = FakeLosant(TOKEN).ids.instance_id
        orgs = await client.instance_orgs.get(instance_id=instance_id, per_page=1000)
        org_ids = [o.id for o in orgs.items or [] if o.id]
    start = int((time.time() - 400 * 86400) * 1000)
    runs = contenders(url, instance_id, start)
    first = await runs["aiohttp+json"](org_ids[:1])
    raw = await _raw_size(url, instance_id, org_ids[0], start)
    print(f"{len(org_ids)} orgs, {raw / 1e6:.2f} MB per answer, {CONCURRENCY} at a time")
    best: dict[str, tuple[float, float]] = {}
    totals: set[int] = set()
    names = list(runs)
    for i in range(repeat):
        for name in names[i % len(names) :] + names[: i % len(names)]:  # rotate the order
            run = runs[name]
            cpu, wall, total = await measure(run, org_ids)
            totals.add(total)
            old = best.get(name, (float("inf"), float("inf")))
            best[name] = (min(old[0], cpu), min(old[1], wall))
    assert len(totals) == 1 and first > 0, "the contenders disagree"
    base_cpu = best["aiohttp+json"][0]
    print(f"{'contender':<26}{'client CPU':>12}{'wall':>10}{'CPU vs aiohttp+json':>22}")
    for name in names:
        cpu, wall = best[name]
        print(f"{name:<26}{cpu * 1e3:>10.0f}ms{wall * 1e3:>8.0f}ms{cpu / base_cpu:>21.2f}x")


async def _raw_size(url: str, instance_id: str, org_id: str, start: int) -> int:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    target = f"{url}/instances/{instance_id}/orgs/{org_id}/payloadCountsBreakdown"
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.get(target, params={"start": str(start), "resolution": "3600000"}) as resp,
    ):
        return len(await resp.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few orgs, one round")
    args = parser.parse_args()
    orgs, days, repeat = (8, 30, 1) if args.quick else (32, 365, 8)
    proc, url = start_server(orgs, days)
    try:
        anyio.run(bench, url, repeat)
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    os.environ.pop("LOSANT_API_TOKEN", None)
    main()
