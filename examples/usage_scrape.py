"""Every usage metric of an instance's orgs, sandboxes and applications to a CSV file.

The export is resumable: run it again with the same arguments after an interruption and
it continues from its checkpoint, without fetching again or writing a row twice.

    LOSANT_API_TOKEN=... python examples/usage_scrape.py INSTANCE_ID 2026-10-01 2026-10-31 usage.csv

Without ``LOSANT_API_TOKEN`` it exports the last seven days of the local Losant server's
instance to ``usage.csv`` in the current directory and prints the first rows.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import anyio

from losant_async import LosantClient
from losant_async.usage import ScrapeSummary, export_usage


def progress(summary: ScrapeSummary) -> None:
    if summary.entities_done % 50 == 0:
        print(f"  {summary.entities_done} entities, {summary.rows} rows so far")


async def scrape(client: LosantClient, instance_id: str, start: date, end: date, out: Path) -> None:
    summary = await export_usage(
        client,
        out,
        instance_id=instance_id,
        start=start,
        # The API's end is inclusive: the last millisecond of the last day.
        end=datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1, milliseconds=-1),
        format="csv",
        checkpoint=out.with_suffix(".checkpoint"),
        concurrency=16,
        progress=progress,
    )
    print(f"wrote {summary.rows} rows to {out}: {summary}")


async def local_demo() -> None:
    from losant_async.testing import FakeLosant

    out = Path("usage.csv")
    async with FakeLosant(orgs=10, sandboxes=3, apps_per_org=4) as server:
        async with LosantClient(server.token, base_url=server.url) as client:
            today = datetime.now(UTC).date()
            out.with_suffix(".checkpoint").unlink(missing_ok=True)  # a fresh export
            await scrape(client, server.ids.instance_id, today - timedelta(days=7), today, out)
    show_head(out)


def show_head(path: Path, lines: int = 4) -> None:
    with path.open() as f:
        for _, line in zip(range(lines), f, strict=False):
            print(line.rstrip())


def main() -> None:
    if os.environ.get("LOSANT_API_TOKEN"):
        instance_id, start, end, out = sys.argv[1:5]

        async def run() -> None:
            async with LosantClient(rate_limit=20) as client:
                await scrape(
                    client,
                    instance_id,
                    date.fromisoformat(start),
                    date.fromisoformat(end),
                    Path(out),
                )

        anyio.run(run)
    else:
        anyio.run(local_demo)


if __name__ == "__main__":
    main()
