"""Payload counts of every org of an instance, fetched concurrently.

Run with LOSANT_API_TOKEN set: ``python examples/usage_scrape.py INSTANCE_ID``.
"""

from __future__ import annotations

import sys

import anyio

from losant_async import LosantClient


async def main(instance_id: str) -> None:
    async with LosantClient(max_concurrency=8, rate_limit=20) as client:
        orgs = await client.instance_orgs.get(instance_id=instance_id, per_page=1000)

        async def one(org_id: str, name: str | None) -> None:
            stats = await client.instance_org.payload_counts_breakdown(
                instance_id=instance_id, org_id=org_id, start=0
            )
            print(name, sum(c.value or 0 for c in stats.counts or []))

        async with anyio.create_task_group() as tg:
            for org in orgs.items or []:
                if org.id:
                    tg.start_soon(one, org.id, org.name)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1])
