"""A minimal HTTP server answering with fixed bodies, for benchmarks that measure clients.

``python benchmarks/_peer_server.py TOKEN DAILY_BODY HOURLY_BODY`` serves, on a free port
of 127.0.0.1 that it prints, ``GET .../payloadCountsBreakdown``: the daily body for
``resolution=86400000``, the hourly one for ``resolution=3600000`` (the bodies are real
answers of the local Losant server, captured once). Nothing is computed per request, so
the server costs less than any client of it and the clients' differences show.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from aiohttp import web


async def serve(token: str, daily: bytes, hourly: bytes) -> None:
    auth = f"Bearer {token}"
    bodies = {"86400000": daily, "3600000": hourly}

    async def handler(request: web.BaseRequest) -> web.Response:
        if request.headers.get("Authorization") != auth:
            return web.Response(status=401)
        body = bodies.get(request.query.get("resolution", ""))
        if body is None or not request.path.endswith("/payloadCountsBreakdown"):
            return web.Response(status=404)
        return web.Response(body=body, content_type="application/json")

    loop = asyncio.get_running_loop()
    server = web.Server(handler, access_log=None)
    listener = await loop.create_server(server, "127.0.0.1", 0)
    print(listener.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    listener.close()
    await server.shutdown(1)


class PeerServer:
    """The server in a child process: ``with PeerServer(...) as url:``."""

    def __init__(self, token: str, daily: Path, hourly: Path) -> None:
        self._argv = [sys.executable, __file__, token, str(daily), str(hourly)]
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> str:
        self._proc = subprocess.Popen(self._argv, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        port = int(self._proc.stdout.readline())
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        return f"http://127.0.0.1:{port}"

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


if __name__ == "__main__":
    token, daily, hourly = sys.argv[1:4]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(token, Path(daily).read_bytes(), Path(hourly).read_bytes()))
