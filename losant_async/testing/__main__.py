"""``python -m losant_async.testing``: serve the local Losant API until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from datetime import datetime

from ._clock import Instant
from ._server import FakeLosant


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m losant_async.testing",
        description="Serve a local Losant API (seeded enterprise instance) until Ctrl-C.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (0: any free one; default 8080)")
    p.add_argument("--token", default="test-token", help="the bearer token to accept")
    p.add_argument("--seed", type=int, default=0, help="seed of all generated data")
    p.add_argument("--orgs", type=int, default=3, help="organizations in the instance")
    p.add_argument("--sandboxes", type=int, default=2, help="instance sandboxes")
    p.add_argument("--apps-per-org", type=int, default=2, help="applications per org")
    p.add_argument("--devices-per-app", type=int, default=3, help="devices per application")
    p.add_argument("--days", type=int, default=30, help="days of usage history")
    p.add_argument("--stream-ids", action="store_true", help="number SSE events for resuming")
    p.add_argument(
        "--now",
        type=_instant,
        help="fix the clock: epoch ms or an ISO date-time with its zone (2026-01-01T00:00:00Z)",
    )
    return p


def _instant(text: str) -> Instant:
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date-time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give the zone of {text!r} (Z or +hh:mm)")
    return moment


async def serve(args: argparse.Namespace) -> None:
    server = FakeLosant(
        args.token,
        seed=args.seed,
        orgs=args.orgs,
        sandboxes=args.sandboxes,
        apps_per_org=args.apps_per_org,
        devices_per_app=args.devices_per_app,
        days=args.days,
        host=args.host,
        port=args.port,
        stream_ids=args.stream_ids,
        now=args.now,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with server:
        print(f"Losant API at {server.url}", flush=True)
        print(f"token: {server.token}", flush=True)
        print(f"instance: {server.ids.instance_id}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
