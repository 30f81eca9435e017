"""The ``losant-async`` command: ``demo`` (the README's main job).

``demo`` talks to Losant when ``LOSANT_API_TOKEN`` is set, and otherwise starts the
embedded local Losant server and runs the same steps against it: concurrent usage calls
across every org of the instance, a typed decode, and a live MQTT round trip over the
subscription stream.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import Any

import anyio

from . import LosantClient


async def _usage(client: LosantClient, instance_id: str) -> None:
    orgs = await client.instance_orgs.get(instance_id=instance_id, per_page=1000)
    items = orgs.items or []
    print(f"instance {instance_id}: {len(items)} orgs (totalCount={orgs.total_count})")
    results: dict[str, Any] = {}
    started = time.perf_counter()

    async def one(org_id: str) -> None:
        results[org_id] = await client.instance_org.payload_counts_breakdown(
            instance_id=instance_id, org_id=org_id, start=0
        )

    async with anyio.create_task_group() as tg:
        for org in items:
            if org.id:
                tg.start_soon(one, org.id)
    elapsed = time.perf_counter() - started
    for org in items:
        counts = results.get(org.id or "")
        days = (counts.counts or []) if counts else []
        total = sum(c.value or 0 for c in days)
        print(f"  org {org.name!r}: {total} payloads over {len(days)} days")
    print(f"payload breakdowns for {len(items)} orgs fetched concurrently in {elapsed:.3f}s")


async def _mqtt(client: LosantClient, application_id: str) -> None:
    async with client.application.mqtt_subscription_stream(
        application_id=application_id, topic="demo/#", keep_alive_interval=1
    ) as stream:
        await client.application.mqtt_publish_message(
            application_id=application_id, payload={"topic": "demo/temp", "message": "21.5"}
        )
        with anyio.fail_after(10):
            message = await stream.__anext__()
        print(f"mqtt: received {message.message!r} on {message.topic!r} via the SSE stream")


async def demo() -> int:
    token = os.environ.get("LOSANT_API_TOKEN")
    if token:
        async with LosantClient(token) as client:
            me = await client.me.get()
            print(f"authenticated as {me.email or me.id} against {client.base_url}")
            instances = await client.instances.get()
            for inst in instances.items or []:
                if inst.id:
                    await _usage(client, inst.id)
        return 0
    import importlib

    try:
        testing = importlib.import_module(".testing", __package__)
    except ImportError:
        testing = None
    fake_losant: Any = getattr(testing, "FakeLosant", None)
    if fake_losant is None:
        print("the embedded local Losant server is not part of this build", file=sys.stderr)
        return 1
    print("LOSANT_API_TOKEN is not set: running against the embedded local Losant server")
    async with fake_losant(orgs=5, apps_per_org=3) as server:
        print(f"local server at {server.url}")
        async with LosantClient(server.token, base_url=server.url) as client:
            await _usage(client, server.ids.instance_id)
            await _mqtt(client, server.ids.application_ids[0])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="losant-async", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="run the demo (local server when no token is set)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return asyncio.run(demo())
    return 2


if __name__ == "__main__":
    sys.exit(main())
