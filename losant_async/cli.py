"""The ``losant-async`` command: a demo, usage exports and MQTT from a shell.

Subcommands: ``demo``, ``usage``, ``subscribe``, ``publish`` (``losant-async CMD --help``).
The token comes from ``--token`` or ``$LOSANT_API_TOKEN`` (prefer the variable: a command
line is visible to other users of the machine), the API's address from ``--url`` or
``$LOSANT_API_URL``. Errors are one line on stderr and an exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any, NoReturn

import anyio
import msgspec

from . import __version__
from ._times import to_epoch_ms
from .errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    LosantError,
    NotFoundError,
    PermissionDeniedError,
)

if TYPE_CHECKING:
    from ._client import LosantClient
    from .sse import StreamGap
    from .usage import ScrapeSummary, UsageScrape

OK = 0
FAILED = 1
USAGE = 2
AUTH = 3
NOT_FOUND = 4
NETWORK = 5
API = 6
PARTIAL = 7
FILE = 8
INTERRUPTED = 130

EXIT_CODES = f"""\
exit codes:
  {OK}    success (subscribe: also when stopped with Ctrl-C)
  {FAILED}    unexpected failure
  {USAGE}    usage error: a bad option, date, ID or missing token
  {AUTH}    authentication or permission refused (401, 403)
  {NOT_FOUND}    not found (404): an unknown instance, org or application
  {NETWORK}    network: the API could not be reached, or timed out
  {API}    any other API error (400, 409, 429, 5xx after retries, an undecodable body)
  {PARTIAL}    usage: the export finished, but some entities gave error rows
  {FILE}    a file could not be read or written
  {INTERRUPTED}  interrupted (Ctrl-C) before the work was done
"""


class _Fail(Exception):
    """A failure to report as one line with this exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


# -- arguments ---------------------------------------------------------------------------


def parse_time(text: str) -> datetime | int:
    """A command-line time: an ISO date (UTC midnight), an ISO datetime (UTC when it has no
    offset) or milliseconds since the epoch."""
    value: datetime | int
    if text.isascii() and text.isdigit():
        value = int(text)
    else:
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                value = datetime(day.year, day.month, day.day, tzinfo=UTC)
            else:
                value = datetime.fromisoformat(text)
                if value.tzinfo is None:
                    value = value.replace(tzinfo=UTC)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a date: give 2026-10-01, 2026-10-01T12:00:00+02:00 "
                "(UTC without an offset) or milliseconds since the epoch"
            ) from None
    try:
        to_epoch_ms(value)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("time: ")) from None
    return value


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return number


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser."""
    from .usage import METRICS, RESOURCE_TYPES

    common = argparse.ArgumentParser(add_help=False)
    conn = common.add_argument_group("connection")
    conn.add_argument(
        "--token",
        default=argparse.SUPPRESS,
        help="API token (default: $LOSANT_API_TOKEN, which keeps it out of the process list)",
    )
    conn.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help="API address (default: $LOSANT_API_URL, else https://api.losant.com)",
    )
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="losant-async",
        description=__doc__,
        epilog=EXIT_CODES,
        formatter_class=formatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=summary,
            description=description,
            epilog=EXIT_CODES,
            formatter_class=formatter,
            parents=[common],
        )

    demo = command(
        "demo",
        "scrape usage and run an MQTT round trip (on a local server when no token is set)",
        "Without a token: start the embedded local Losant server, scrape its whole usage "
        "with a progress bar, run an MQTT publish/subscribe round trip, print a report. "
        "With a token: the same against Losant (the last day of the first instance's "
        "usage; the round trip when --application is given).",
    )
    demo.add_argument("--application", metavar="ID", help="application for the MQTT round trip")

    usage = command(
        "usage",
        "export an instance's usage as CSV or JSON Lines",
        "Export every usage metric of an instance's orgs, sandboxes and applications over "
        "[--start, --end] (the end included, as the API has it), one value per row. "
        "Times: an ISO date (UTC midnight), an ISO datetime (UTC without an offset) or "
        "milliseconds since the epoch. Progress goes to stderr: a live bar on a terminal, "
        "a line every --progress-interval seconds otherwise.",
    )
    usage.add_argument("--instance", required=True, metavar="ID", help="instance ID")
    usage.add_argument("--start", required=True, type=parse_time, help="window start")
    usage.add_argument("--end", required=True, type=parse_time, help="window end (included)")
    usage.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="default: csv")
    usage.add_argument("--out", metavar="FILE", help="output file (default: stdout)")
    usage.add_argument(
        "--resume",
        metavar="FILE",
        help="checkpoint file (needs --out): an interrupted export run again with the "
        "same arguments continues where it stopped, without writing a row twice",
    )
    usage.add_argument(
        "--org",
        action="append",
        metavar="ID",
        help="only this org and its applications (repeatable; leaves out sandboxes)",
    )
    usage.add_argument(
        "--metric", action="append", choices=METRICS, help="metrics to export (default: all)"
    )
    usage.add_argument(
        "--include",
        action="append",
        choices=RESOURCE_TYPES,
        help="levels to export (default: organization, sandbox, application)",
    )
    usage.add_argument(
        "--resolution",
        choices=("hour", "day", "month"),
        default="day",
        help="of payload_counts_breakdown (default: day)",
    )
    usage.add_argument(
        "--concurrency",
        type=_positive_int,
        default=32,
        metavar="N",
        help="entities fetched at once (default: 32)",
    )
    usage.add_argument(
        "--progress-interval",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds between progress lines when stderr is not a terminal (default: 5)",
    )
    usage.add_argument("--quiet", action="store_true", help="no progress, only the summary")

    subscribe = command(
        "subscribe",
        "print an application's MQTT messages as JSON lines until Ctrl-C",
        "Print one JSON object per message ({'topic': ..., 'message': ...}) on stdout "
        "until Ctrl-C (exit code 0) or --count messages; the stream reconnects by itself "
        "and says so on stderr.",
    )
    subscribe.add_argument("--application", required=True, metavar="ID", help="application ID")
    subscribe.add_argument("--topic", required=True, help="MQTT topic filter (+ and # allowed)")
    subscribe.add_argument("--count", type=_positive_int, metavar="N", help="exit after N messages")

    publish = command(
        "publish",
        "publish an MQTT message to an application",
        "Publish one MQTT message through the API.",
    )
    publish.add_argument("--application", required=True, metavar="ID", help="application ID")
    publish.add_argument("--topic", required=True, help="MQTT topic")
    publish.add_argument("--message", required=True, help="the message, as text")
    return parser


def _client(args: argparse.Namespace, *, need_token: bool = True) -> LosantClient:
    from ._client import LosantClient

    token = getattr(args, "token", None) or os.environ.get("LOSANT_API_TOKEN") or None
    if token is None and need_token:
        raise _Fail(USAGE, "no API token: set LOSANT_API_TOKEN (or pass --token)")
    url = getattr(args, "url", None) or os.environ.get("LOSANT_API_URL") or None
    try:
        return LosantClient(token, base_url=url)
    except (TypeError, ValueError) as exc:
        raise _Fail(USAGE, str(exc)) from None


# -- progress ----------------------------------------------------------------------------


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """A scrape's progress on a stream: a bar redrawn in place on a terminal, else a plain
    line now and then. ``total`` is the expected number of entities, once known."""

    WIDTH = 24

    def __init__(self, stream: IO[str], *, live: bool, interval: float) -> None:
        self.stream = stream
        self.live = live
        self.interval = interval
        self.total: int | None = None
        self._last_line = -math.inf
        self._drawn = False

    def line(self, s: ScrapeSummary) -> str:
        done = s.entities_done + s.entities_skipped
        known = max(done, s.entities_found + s.entities_skipped)
        total = max(self.total, known) if self.total is not None else None
        elapsed = s.elapsed
        rate = s.requests / elapsed if elapsed > 0 else 0.0
        if total:
            share = min(1.0, done / total)
            bar = "#" * int(share * self.WIDTH)
            left = total - done
            eta = _clock(elapsed / s.entities_done * left) if s.entities_done else "?"
            head = f"[{bar:<{self.WIDTH}}] {done}/{total} entities {share:4.0%}"
        else:
            head, eta = f"{done}/{known}+ entities", "?"
        return (
            f"{head}  {s.requests} requests ({rate:.0f}/s)  {s.errors} errors  "
            f"{elapsed:.0f}s elapsed  ETA {eta}"
        )

    def update(self, s: ScrapeSummary, *, final: bool = False) -> None:
        """Show ``s`` now (live), or if a line is due (plain), or as the last one."""
        if self.live:
            if not final and time.monotonic() - self._last_line < 0.05:
                return  # a terminal needs no more than 20 frames a second
            self._last_line = time.monotonic()
            self.stream.write("\r\x1b[K" + self.line(s) + ("\n" if final else ""))
            self._drawn = not final
        elif final or time.monotonic() - self._last_line >= self.interval:
            self._last_line = time.monotonic()
            self.stream.write(self.line(s) + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._drawn:  # leave the cursor on a fresh line
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


async def _expected_entities(client: LosantClient, scrape: UsageScrape) -> int:
    """The units a scrape will hand out, from the org listing's app counts and the sandbox
    listing (a few requests: the listings, not the usage): the bar's total."""
    from .pagination import cursor_pages, items, numbered_pages
    from .usage import PCB

    want = set(scrape.plan.include)
    inst = scrape.plan.instance_id
    orgs = org_apps = 0
    if scrape.plan.orgs is None:
        pages = numbered_pages(client.instance_orgs.get, {"instance_id": inst})
        async for org in items(pages):
            orgs += 1
            org_apps += (org.summary.app_count or 0) if org.summary else 0
    else:
        for org_id in scrape.plan.orgs:
            got = await client.instance_org.get(instance_id=inst, org_id=org_id)
            orgs += 1
            org_apps += (got.summary.app_count or 0) if got.summary else 0
    per_org = (orgs if "organization" in want else 0) + (org_apps if "application" in want else 0)
    total = per_org * len(scrape.bulk_months)
    if not (scrape.bulk_months and scrape.plan.metrics == (PCB,)):
        total += per_org
    if scrape.plan.sandboxes:
        total += "instance" in want
        boxes = 0
        async for _ in items(cursor_pages(client.instance_sandboxes.get, {"instance_id": inst})):
            boxes += 1
        total += boxes if "sandbox" in want else 0
        if "application" in want and boxes:
            every = await client.applications.get(per_page=1)
            total += max(0, (every.total_count or 0) - org_apps)
    return total


async def _tick(progress: Progress, summary: list[ScrapeSummary], period: float) -> NoReturn:
    """Redraw every ``period`` seconds (requests/s and ETA move between entities too);
    ``summary`` holds the scrape's live counters once its first entity is done."""
    while True:
        await anyio.sleep(period)
        if summary:
            progress.update(summary[0])


# -- commands ----------------------------------------------------------------------------


async def _check_instance(client: LosantClient, instance_id: str) -> str | None:
    """The instance's name; an unknown instance or a refused token fails here, before a
    scrape that would only give error rows."""
    instance = await client.instance.get(instance_id=instance_id)
    return instance.name


async def cmd_usage(args: argparse.Namespace) -> int:
    from .usage import export_usage, scrape_usage

    if args.resume and not args.out:
        raise _Fail(USAGE, "--resume needs --out: an export to stdout cannot be resumed")
    options: dict[str, Any] = {
        "instance_id": args.instance,
        "start": args.start,
        "end": args.end,
        "resolution": args.resolution,
        "concurrency": args.concurrency,
        "orgs": args.org,
    }
    if args.metric:
        options["metrics"] = args.metric
    if args.include:
        options["include"] = args.include
    live = sys.stderr.isatty()
    progress = Progress(sys.stderr, live=live, interval=args.progress_interval)
    summary: list[ScrapeSummary] = []

    def seen(s: ScrapeSummary) -> None:
        if not summary:
            summary.append(s)
        if live and not args.quiet:
            progress.update(s)

    async with _client(args) as client:
        try:
            # Made (not run) first: it checks every argument before the network.
            probe = scrape_usage(client, **options)
        except (TypeError, ValueError) as exc:
            raise _Fail(USAGE, str(exc)) from None
        await _check_instance(client, args.instance)
        result: ScrapeSummary | None = None
        async with anyio.create_task_group() as tg:

            async def estimate() -> None:
                with contextlib.suppress(LosantError):
                    progress.total = await _expected_entities(client, probe)

            tg.start_soon(estimate)
            if not args.quiet:
                period = 0.2 if live else args.progress_interval
                tg.start_soon(_tick, progress, summary, period)
            try:
                result = await export_usage(
                    client,
                    args.out,
                    format=args.format,
                    checkpoint=args.resume,
                    progress=seen,
                    **options,
                )
            except ValueError as exc:  # a checkpoint of another export
                progress.close()
                raise _Fail(USAGE, str(exc)) from None
            except BaseException:
                progress.close()
                raise
            tg.cancel_scope.cancel()
    assert result is not None
    if not args.quiet:
        progress.update(result, final=True)  # the bar drawn once more, complete
    sys.stderr.write(f"done: {result}\n")
    return PARTIAL if result.errors else OK


async def cmd_subscribe(args: argparse.Namespace) -> int:
    encoder = msgspec.json.Encoder()
    out = sys.stdout.buffer

    def gap(g: StreamGap) -> None:
        lost = (g.end - g.start).total_seconds()
        sys.stderr.write(
            f"reconnected ({g.reason}) after {lost:.1f}s without the server, "
            f"{g.reconnects} attempt(s): messages in between may be missing\n"
        )
        sys.stderr.flush()

    async with _client(args) as client:
        stream = client.application.mqtt_subscription_stream(
            application_id=args.application, topic=args.topic
        )
        stream.on_gap = gap
        async with stream:
            sys.stderr.write(f"subscribed to {args.topic!r}: Ctrl-C to stop\n")
            sys.stderr.flush()
            count = 0
            async for message in stream:
                out.write(encoder.encode({"topic": message.topic, "message": message.message}))
                out.write(b"\n")
                out.flush()
                count += 1
                if args.count is not None and count >= args.count:
                    break
    return OK


async def cmd_publish(args: argparse.Namespace) -> int:
    async with _client(args) as client:
        await client.application.mqtt_publish_message(
            application_id=args.application,
            payload={"topic": args.topic, "message": args.message},
        )
    sys.stderr.write(f"published {len(args.message.encode())} bytes to {args.topic!r}\n")
    return OK


# -- demo --------------------------------------------------------------------------------


async def _demo_scrape(client: LosantClient, instance_id: str, start: datetime) -> None:
    from .usage import scrape_usage

    end = datetime.now(UTC)
    live = sys.stderr.isatty()
    progress = Progress(sys.stderr, live=live, interval=1.0)
    payloads: dict[str, int] = {}
    names: dict[str, str] = {}
    scrape = scrape_usage(
        client, instance_id=instance_id, start=start, end=end, progress=progress.update
    )
    async with anyio.create_task_group() as tg:

        async def estimate() -> None:
            with contextlib.suppress(LosantError):
                progress.total = await _expected_entities(client, scrape)

        tg.start_soon(estimate)
        try:
            async with scrape:
                async for row in scrape:
                    if row.metric == "payload_counts_breakdown" and row.value is not None:
                        if row.resource_type == "organization":
                            payloads[row.resource_id] = payloads.get(row.resource_id, 0) + int(
                                row.value
                            )
                            names[row.resource_id] = row.resource_name or row.resource_id
        finally:
            progress.close()
        tg.cancel_scope.cancel()
    s = scrape.summary
    progress.update(s, final=True)
    print(
        f"usage since {start:%Y-%m-%d %H:%M} UTC: {s.entities_done} entities, {s.rows} rows, "
        f"{s.requests} requests, {s.errors} errors in {s.elapsed:.2f}s "
        f"({s.requests / max(s.elapsed, 1e-9):.0f} requests/s)"
    )
    for org_id, count in sorted(payloads.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  org {names[org_id]!r}: {count:,} billable payloads")


async def _demo_mqtt(client: LosantClient, application_id: str) -> None:
    topic = "losant-async/demo"
    async with client.application.mqtt_subscription_stream(
        application_id=application_id, topic=topic
    ) as stream:
        sent = time.perf_counter()
        await client.application.mqtt_publish_message(
            application_id=application_id, payload={"topic": topic, "message": "21.5"}
        )
        with anyio.fail_after(30):
            message = await anext(aiter(stream))
        took = (time.perf_counter() - sent) * 1000
    print(
        f"mqtt: published {message.message!r} on {message.topic!r} and received it back "
        f"over the subscription stream in {took:.1f} ms"
    )


async def cmd_demo(args: argparse.Namespace) -> int:
    token = getattr(args, "token", None) or os.environ.get("LOSANT_API_TOKEN")
    if token:
        async with _client(args) as client:
            me = await client.me.get()
            print(f"authenticated as {me.email or me.id} against {client.base_url}")
            instances = (await client.instances.get()).items or []
            if not instances or not instances[0].id:
                print("the token sees no instance: no usage to scrape")
            else:
                since = datetime.now(UTC) - timedelta(days=1)
                await _demo_scrape(client, instances[0].id, since)
            if args.application:
                await _demo_mqtt(client, args.application)
        return OK
    from .testing import FakeLosant

    print("LOSANT_API_TOKEN is not set: running against the embedded local Losant server")
    async with FakeLosant(orgs=20, sandboxes=5, apps_per_org=5) as server:
        print(
            f"local server at {server.url}: an instance of {len(server.ids.org_ids)} orgs, "
            f"{len(server.ids.sandbox_ids)} sandboxes, "
            f"{len(server.ids.application_ids)} applications"
        )
        from ._client import LosantClient

        async with LosantClient(server.token, base_url=server.url) as client:
            since = datetime.now(UTC) - timedelta(days=7)
            await _demo_scrape(client, server.ids.instance_id, since)
            await _demo_mqtt(client, server.ids.application_ids[0])
    return OK


# -- entry point -------------------------------------------------------------------------

_COMMANDS: dict[str, Callable[[argparse.Namespace], Awaitable[int]]] = {
    "demo": cmd_demo,
    "usage": cmd_usage,
    "subscribe": cmd_subscribe,
    "publish": cmd_publish,
}


def _code(exc: BaseException) -> tuple[int, str]:
    """The exit code and line for an error raised by a command."""
    if isinstance(exc, _Fail):
        return exc.code, str(exc)
    if isinstance(exc, AuthenticationError | PermissionDeniedError):
        return AUTH, f"refused ({exc.status}): {exc.message or exc.type or 'check the token'}"
    if isinstance(exc, NotFoundError):
        return NOT_FOUND, f"not found: {exc}"
    if isinstance(exc, APIConnectionError):
        return NETWORK, f"network: {exc}"
    if isinstance(exc, APIError | LosantError):
        return API, f"API error: {exc}"
    if isinstance(exc, OSError):
        return FILE, f"file: {exc}"
    if isinstance(exc, ValueError):  # an argument the client refused before the network
        return USAGE, str(exc)
    return FAILED, f"unexpected {type(exc).__name__}: {exc}"


def _single(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (a task group's failure)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _stdout_closed() -> int:
    """A closed stdout (``| head``) ends the command quietly, as for other shell tools;
    stdout goes to /dev/null so that the interpreter's last flush cannot fail again."""
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return OK


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code."""
    args = build_parser().parse_args(argv)
    run = _COMMANDS[args.command]
    try:
        return anyio.run(run, args)
    except BaseException as caught:
        exc = _single(caught)
        if isinstance(exc, KeyboardInterrupt):  # Ctrl-C, once the command cleaned up
            return OK if args.command == "subscribe" else INTERRUPTED
        if isinstance(exc, BrokenPipeError):
            return _stdout_closed()
        if not isinstance(exc, Exception):
            raise
        code, line = _code(exc)
        sys.stderr.write(f"losant-async: {line}\n")
        return code


if __name__ == "__main__":
    sys.exit(main())
