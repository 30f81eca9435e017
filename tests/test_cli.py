"""The installed ``losant-async`` command, run as a subprocess against the local Losant server
of the test (on a fixed clock): every subcommand, both output formats against an in-process
scrape of the same window, resume from a checkpoint, exit codes, Ctrl-C on ``subscribe``."""

from __future__ import annotations

import csv
import io
import os
import pty
import shutil
import signal
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import msgspec
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from losant_async import LosantClient, __version__
from losant_async.cli import AUTH, INTERRUPTED, NETWORK, NOT_FOUND, USAGE
from losant_async.testing import FakeLosant, Latency, StreamDrop
from losant_async.usage import COLUMNS, UsageRow, scrape_usage

pytestmark = [pytest.mark.anyio, pytest.mark.fake_losant(orgs=3, sandboxes=2, apps_per_org=2)]

# The window, inside the usage history of the suite's fixed clock (2026-03-01T01:30Z).
START, END = "2026-02-26", "2026-02-28T12:00:00"  # the end without an offset: UTC
START_DT = datetime(2026, 2, 26, tzinfo=UTC)
END_DT = datetime(2026, 2, 28, 12, tzinfo=UTC)
MQTT = "application.mqttSubscriptionStream"


def command() -> list[str]:
    """The console script installed beside this Python (the project's .venv)."""
    beside = Path(sys.executable).parent / "losant-async"
    found = str(beside) if beside.exists() else shutil.which("losant-async")
    assert found, "the losant-async console script is not installed"
    return [found]


def environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOSANT_")}
    env.update(extra)
    return env


async def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    done = await anyio.run_process([*command(), *args], check=False, env=env or environ())
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def connected(server: FakeLosant) -> dict[str, str]:
    return environ(LOSANT_API_TOKEN=server.token, LOSANT_API_URL=server.url)


async def scraped(server: FakeLosant, **options: Any) -> Counter[UsageRow]:
    """The rows of the same scrape, run in this process."""
    async with LosantClient(server.token, base_url=server.url) as client:
        scrape = scrape_usage(
            client, instance_id=server.ids.instance_id, start=START_DT, end=END_DT, **options
        )
        async with scrape:
            return Counter([row async for row in scrape])


def from_csv(text: str) -> Counter[UsageRow]:
    reader = csv.reader(io.StringIO(text))
    assert tuple(next(reader)) == COLUMNS
    rows = []
    for rtype, rid, name, parent, metric, when, field, value, error in reader:
        number: int | float | None = None
        if value:
            number = int(value) if value.lstrip("-").isdigit() else float(value)
        rows.append(
            UsageRow(
                resource_type=rtype,
                resource_id=rid,
                resource_name=name or None,
                parent_id=parent or None,
                metric=metric,
                date=datetime.fromisoformat(when) if when else None,
                field=field,
                value=number,
                error=error or None,
            )
        )
    return Counter(rows)


def from_jsonl(data: bytes) -> Counter[UsageRow]:
    return Counter(msgspec.json.decode(line, type=UsageRow) for line in data.splitlines())


def assert_one_error_line(stderr: str, *hidden: str) -> None:
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    for secret in hidden:
        assert secret not in stderr


# -- the basics --------------------------------------------------------------------------


async def test_version_from_the_script_and_python_m() -> None:
    assert await run("--version") == (0, f"losant-async {__version__}\n", "")
    done = await anyio.run_process(
        [sys.executable, "-m", "losant_async", "--version"], check=False, env=environ()
    )
    assert (done.returncode, done.stdout.decode()) == (0, f"losant-async {__version__}\n")


async def test_help_documents_every_command_and_exit_code() -> None:
    code, out, _ = await run("--help")
    assert code == 0
    for word in ("demo", "usage", "subscribe", "publish", "LOSANT_API_TOKEN", "LOSANT_API_URL"):
        assert word in out
    for exit_code in ("2 ", "3 ", "4 ", "5 ", "130"):
        assert f"  {exit_code}" in out
    code, out, _ = await run("usage", "--help")
    assert code == 0 and "--resume FILE" in out and "not found" in out


async def test_demo_runs_on_the_embedded_server() -> None:
    code, out, err = await run("demo")
    assert code == 0, err
    assert "embedded local Losant server" in out
    assert "entities" in out and "0 errors" in out
    assert "received it back over the subscription stream" in out
    assert "Traceback" not in err


# -- usage -------------------------------------------------------------------------------


async def test_usage_csv_file_equals_the_scrape(server: FakeLosant, tmp_path: Path) -> None:
    out = tmp_path / "usage.csv"
    inst = server.ids.instance_id
    code, stdout, err = await run(
        "usage", "--instance", inst, "--start", START, "--end", END, "--out", str(out),
        env=connected(server),
    )  # fmt: skip
    assert code == 0, err
    assert stdout == ""
    expected = await scraped(server)
    assert len(expected) > 100
    assert from_csv(out.read_text()) == expected
    # Not a terminal: plain progress lines, then the summary.
    lines = err.splitlines()
    assert "\r" not in err and "Traceback" not in err
    assert lines[-1].startswith("done: ") and "0 errors" in lines[-1]
    assert any("entities" in line and "ETA" in line for line in lines[:-1])


async def test_usage_jsonl_on_stdout_with_options_equals_the_scrape(server: FakeLosant) -> None:
    org = server.ids.org_ids[1]
    code, stdout, err = await run(
        "usage", "--instance", server.ids.instance_id, "--start", START, "--end", END,
        "--format", "jsonl", "--org", org, "--metric", "payload_counts_breakdown",
        "--resolution", "hour", "--concurrency", "2", "--token", server.token,
        "--url", server.url, env=environ(),
    )  # fmt: skip
    assert code == 0, err
    expected = await scraped(
        server, orgs=[org], metrics=["payload_counts_breakdown"], resolution="hour", concurrency=2
    )
    assert {row.resource_type for row in expected} == {"organization", "application"}
    assert from_jsonl(stdout.encode()) == expected


async def test_usage_resumes_from_its_checkpoint(server: FakeLosant, tmp_path: Path) -> None:
    out, checkpoint = tmp_path / "usage.jsonl", tmp_path / "usage.ckpt"
    args = [
        "usage", "--instance", server.ids.instance_id, "--start", START, "--end", END,
        "--format", "jsonl", "--out", str(out), "--resume", str(checkpoint),
    ]  # fmt: skip
    code, _, err = await run(*args, env=connected(server))
    assert code == 0, err
    whole = from_jsonl(out.read_bytes())
    assert whole == await scraped(server)

    # Cut the run short as a crash would: 3 entities recorded, and half a row written
    # after them that the checkpoint never recorded.
    head, *commits = checkpoint.read_bytes().splitlines()
    kept = [msgspec.json.decode(line) for line in commits[:3]]
    checkpoint.write_bytes(b"\n".join([head, *commits[:3]]) + b"\n")
    cut = kept[-1]["offset"]
    out.write_bytes(out.read_bytes()[:cut] + b'{"resource_type":"organiz')
    mark = len(server.journal)

    code, _, err = await run(*args, env=connected(server))
    assert code == 0, err
    assert "(3 skipped)" in err.splitlines()[-1]
    rows = from_jsonl(out.read_bytes())
    assert rows == whole
    assert max(rows.values()) == 1  # no row twice
    # The recorded entities were not fetched again.
    skipped_ids = {entry["key"].split(":")[1] for entry in kept}
    again = list(server.journal)[mark:]
    assert again
    for entry in again:
        if entry.action and "ount" in entry.action:  # the usage actions: *Counts*
            assert not skipped_ids & set(entry.path_params.values()), entry.path


async def test_usage_ctrl_c_exits_130_and_the_export_resumes(
    server: FakeLosant, tmp_path: Path
) -> None:
    out, checkpoint = tmp_path / "usage.csv", tmp_path / "usage.ckpt"
    args = [
        *command(), "usage", "--instance", server.ids.instance_id, "--start", START,
        "--end", END, "--out", str(out), "--resume", str(checkpoint),
        "--progress-interval", "0.01", "--concurrency", "1",
    ]  # fmt: skip
    # Applications' usage hangs: the scrape cannot end before Ctrl-C, whenever it comes.
    server.faults.add(Latency(30), action="application.payloadCounts")
    process = await anyio.open_process(args, env=connected(server))
    try:
        assert process.stderr is not None
        err = Lines(process.stderr)
        with anyio.fail_after(60):  # hang guard
            await err.until("entities")  # the first entity is done
            process.send_signal(signal.SIGINT)
            assert await process.wait() == INTERRUPTED
        assert "Traceback" not in await err.rest()
    finally:
        if process.returncode is None:
            process.kill()
        await process.aclose()
    server.faults.clear()
    code, _, stderr = await run(*args[1:], env=connected(server))
    assert code == 0, stderr
    rows = from_csv(out.read_text())
    assert rows == await scraped(server)
    assert max(rows.values()) == 1
    assert "skipped)" in stderr and "(0 skipped)" not in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--start", "2026-02-30"], "is not a date"),
        (["--start", "1761955200"], "seconds were probably passed"),
        (["--start", "yesterday"], "is not a date"),
        (["--instance", "not-an-id"], "not a Losant ID"),
        (["--concurrency", "0"], "not a positive integer"),
        (["--format", "xml"], "invalid choice"),
        (["--resume", "x.ckpt"], "--resume needs --out"),
        (["--start", "2026-02-28", "--end", "2026-02-01"], "is after end"),
    ],
)
async def test_usage_errors_are_usage_errors(
    server: FakeLosant, args: list[str], message: str
) -> None:
    given = {"--instance": server.ids.instance_id, "--start": START, "--end": END}
    for i in range(0, len(args), 2):
        given[args[i]] = args[i + 1]
    argv = [part for pair in given.items() for part in pair]
    code, stdout, err = await run("usage", *argv, env=connected(server))
    assert code == USAGE
    assert message in err and "Traceback" not in err and stdout == ""
    assert len(server.journal) == 0  # refused before the network


async def test_exit_codes_of_token_instance_and_network(server: FakeLosant) -> None:
    inst = server.ids.instance_id
    window = ["--start", START, "--end", END]
    env = connected(server)

    code, _, err = await run("usage", "--instance", inst, *window, env=environ())
    assert (code, err.strip()) == (
        USAGE,
        "losant-async: no API token: set LOSANT_API_TOKEN (or pass --token)",
    )

    bad = "wrong-token-7f3a9c"
    code, _, err = await run(
        "usage", "--instance", inst, *window, env={**env, "LOSANT_API_TOKEN": bad}
    )
    assert code == AUTH
    assert_one_error_line(err, bad)

    unknown = "0" * 24
    code, _, err = await run("usage", "--instance", unknown, *window, env=env)
    assert code == NOT_FOUND and unknown in err
    assert_one_error_line(err, server.token)

    code, _, err = await run(
        "publish", "--application", unknown, "--topic", "t", "--message", "m", env=env
    )
    assert code == NOT_FOUND
    assert_one_error_line(err, server.token)

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    code, _, err = await run(
        "usage", "--instance", inst, *window, env={**env, "LOSANT_API_URL": closed}
    )
    assert code == NETWORK and err.startswith("losant-async: network:")
    assert_one_error_line(err, server.token)  # fmt: skip


async def test_usage_draws_a_live_bar_when_stderr_is_a_terminal(
    server: FakeLosant, tmp_path: Path
) -> None:
    argv = [
        *command(), "usage", "--instance", server.ids.instance_id, "--start", START,
        "--end", END, "--out", str(tmp_path / "usage.csv"),
    ]  # fmt: skip
    master, terminal = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:  # until the last holder of the terminal's end closes it
        while True:
            try:
                data = os.read(master, 1 << 16)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.to_thread.run_sync, drain)
            try:
                done = await anyio.run_process(
                    argv, stderr=terminal, env=connected(server), check=False
                )
            finally:
                os.close(terminal)
    finally:
        os.close(master)
    shown = b"".join(chunks).decode()
    assert done.returncode == 0, shown
    frames = shown.split("\r\x1b[K")[1:]
    assert frames and "Traceback" not in shown
    expected = len({(r.resource_type, r.resource_id) for r in await scraped(server)})
    assert f"{expected}/{expected} entities 100%" in frames[-1]
    assert all("requests (" in f and "/s)" in f and "errors" in f and "ETA" in f for f in frames)
    assert "done: " in frames[-1]


# -- subscribe and publish ---------------------------------------------------------------


class Lines:
    """Lines of a subprocess's output, read as they come."""

    def __init__(self, stream: Any) -> None:
        self._stream = BufferedByteReceiveStream(stream)
        self.seen: list[str] = []

    async def next(self) -> str:
        line = (await self._stream.receive_until(b"\n", 1 << 20)).decode()
        self.seen.append(line)
        return line

    async def until(self, text: str) -> str:
        while text not in (line := await self.next()):
            pass
        return line

    async def rest(self) -> str:
        chunks = [self._stream.buffer]
        with anyio.move_on_after(30):  # a hang guard: the process has ended
            while True:
                try:
                    chunks.append(await self._stream.receive())
                except (anyio.EndOfStream, anyio.ClosedResourceError):
                    break
        return "\n".join(self.seen) + b"".join(chunks).decode()


@asynccontextmanager
async def subscribed(server: FakeLosant, *args: str) -> AsyncIterator[tuple[Process, Lines, Lines]]:
    argv = [*command(), "subscribe", "--application", server.ids.application_id, *args]
    process = await anyio.open_process(argv, env=connected(server))
    try:
        assert process.stdout is not None and process.stderr is not None
        out, err = Lines(process.stdout), Lines(process.stderr)
        with anyio.fail_after(60):  # hang guard
            await err.until("subscribed to")
            yield process, out, err
    finally:
        if process.returncode is None:
            process.kill()
        await process.aclose()


async def test_publish_reaches_subscribe_and_ctrl_c_ends_it_cleanly(server: FakeLosant) -> None:
    async with subscribed(server, "--topic", "plant/#") as (process, out, err):
        app = server.ids.application_id
        code, stdout, stderr = await run(
            "publish", "--application", app, "--topic", "plant/a", "--message", "21.5",
            env=connected(server),
        )  # fmt: skip
        assert (code, stdout) == (0, "")
        assert "published 4 bytes to 'plant/a'" in stderr
        line = await out.next()
        assert msgspec.json.decode(line) == {"topic": "plant/a", "message": "21.5"}
        process.send_signal(signal.SIGINT)
        assert await process.wait() == 0
        assert "Traceback" not in await err.rest()


async def test_subscribe_reports_a_reconnect_and_stops_after_count(server: FakeLosant) -> None:
    server.faults.add(StreamDrop(every=1), action=MQTT, times=1)  # the first connection
    app = server.ids.application_id
    async with subscribed(server, "--topic", "t", "--count", "2") as (process, out, err):
        server.publish(app, "t", "first")
        assert msgspec.json.decode(await out.next())["message"] == "first"
        # The first connection closed after that message: publish until one arrives over
        # the second (those sent while it reconnects are lost, as on Losant).
        async with anyio.create_task_group() as tg:

            async def keep_publishing() -> None:
                while True:
                    server.publish(app, "t", "second")
                    await anyio.sleep(0.05)

            tg.start_soon(keep_publishing)
            assert msgspec.json.decode(await out.next())["message"] == "second"
            tg.cancel_scope.cancel()
        assert await process.wait() == 0
        rest = await err.rest()
        assert "reconnected (closed)" in rest and "Traceback" not in rest
