"""A minimal HTTP/1.1 server answering with fixed bodies, for benchmarks of clients.

``python benchmarks/_peer_server.py TOKEN DAILY_BODY HOURLY_BODY`` serves, on a free port
of 127.0.0.1 whose URL it prints, every ``GET``: the hourly body when the request line asks for
``resolution=3600000``, else the daily one (the bodies are real answers of the local
Losant server, captured once); 401 without the bearer token. It is a bare asyncio protocol
with keep-alive and canned responses, a few microseconds a request: the client process,
not the server, must be the bottleneck, or every client measures alike. (The local Losant
server validates and builds each answer, about 1.5 ms of CPU a call; even a minimal
aiohttp web server costs about as much per request as an aiohttp client.)

:class:`ChildServer` runs any such server (this one, or ``python -m losant_async.testing``)
in a child process for the length of a ``with`` block.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import subprocess
import sys
from pathlib import Path


def response(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class _Http(asyncio.Protocol):
    """Requests without bodies (GET), pipelined or not, answered in order."""

    def __init__(self, auth: bytes, daily: bytes, hourly: bytes) -> None:
        self._auth = auth
        self._daily = daily
        self._hourly = hourly
        self._unauthorized = response("401 Unauthorized", b"{}")
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        assert self._transport is not None
        self._buffer += data
        *requests, self._buffer = self._buffer.split(b"\r\n\r\n")
        for request in requests:
            if self._auth not in request:
                self._transport.write(self._unauthorized)
                continue
            line = request[: request.find(b"\r\n")]
            hourly = b"resolution=3600000" in line
            self._transport.write(self._hourly if hourly else self._daily)


async def serve(token: str, daily: bytes, hourly: bytes) -> None:
    auth = f"Authorization: Bearer {token}".encode()
    ok_daily, ok_hourly = response("200 OK", daily), response("200 OK", hourly)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Http(auth, ok_daily, ok_hourly), "127.0.0.1", 0)
    print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


class ChildServer:
    """A server in a child process that prints its URL (``http://...``) in the first line
    it writes: ``with ChildServer(argv) as url:``; stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, argv: list[str]) -> None:
        self._argv = argv
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> str:
        self._proc = subprocess.Popen(self._argv, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()  # printed once the server listens
        found = re.search(r"http://\S+", line)
        if found is None:
            self.__exit__()
            raise RuntimeError(f"the server did not start: {self._argv[1:3]} said {line!r}")
        return found.group(0)

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            if self._proc.stdout is not None:
                self._proc.stdout.close()


class PeerServer(ChildServer):
    """The peer server in a child process: ``with PeerServer(...) as url:``."""

    def __init__(self, token: str, daily: Path, hourly: Path) -> None:
        super().__init__([sys.executable, __file__, token, str(daily), str(hourly)])


if __name__ == "__main__":
    token, daily, hourly = sys.argv[1:4]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(token, Path(daily).read_bytes(), Path(hourly).read_bytes()))
