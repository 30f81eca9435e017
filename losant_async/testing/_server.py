"""The aiohttp application: its lifecycle, and the path of every request (journal, faults,
validation, then the handler table or the generic answer)."""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import time
from typing import Any

import msgspec
from aiohttp import web

from ._bus import Bus, valid_topic
from ._call import Answer, Call, ErrorAnswer
from ._clock import Clock, Now
from ._examples import Examples, SeededIds
from ._faults import Fault, Faults
from ._generic import GenericResponder
from ._handlers import Handlers, check_ids
from ._journal import Journal, JournalEntry, Stats, freeze_headers
from ._router import split_path
from ._schema import Schemas
from ._spec import Api, load_api
from ._state import State
from ._validation import validate

log = logging.getLogger("losant_async.testing")


@functools.cache
def shared_schemas() -> Schemas:
    """One schema index (with its compiled patterns) per process."""
    return Schemas(load_api().schemas)


class FakeLosant:
    """A local Losant API server driven by the API description.

    ``async with FakeLosant() as server:`` serves every action on ``server.url`` for the
    bearer token ``server.token``; see the package docstring for the whole surface.

    ``orgs``, ``sandboxes``, ``apps_per_org`` and ``devices_per_app`` size the seeded
    instance (each sandbox owns one application); ``days`` is how much usage history there
    is. ``stream_ids`` numbers SSE events and replays them after ``Last-Event-ID``
    (``replay_size`` per subscription); ``queue_size`` bounds each stream's backlog.
    ``journal_limit`` keeps only the newest entries (None: all). ``now`` is the clock
    (a fixed aware datetime or epoch ms, a callable, or None for the machine's).
    """

    def __init__(
        self,
        token: str = "test-token",
        *,
        seed: int = 0,
        orgs: int = 3,
        sandboxes: int = 2,
        apps_per_org: int = 2,
        devices_per_app: int = 3,
        days: int = 30,
        host: str = "127.0.0.1",
        port: int = 0,
        stream_ids: bool = False,
        queue_size: int = 1000,
        replay_size: int = 1000,
        journal_limit: int | None = None,
        now: Now = None,
    ) -> None:
        self.token = token
        self.seed = seed
        self.host = host
        self.port = port
        self.api: Api = load_api()
        self.schemas = shared_schemas()
        self.faults = Faults(seed, self.api.actions)
        self.journal = Journal()
        self.journal_limit = journal_limit
        self.stats = Stats()
        self.stream_ids = stream_ids
        self.queue_size = queue_size
        self.replay_size = replay_size
        self.clock = Clock(now)
        self.state = State(
            seed,
            orgs=orgs,
            sandboxes=sandboxes,
            apps_per_org=apps_per_org,
            devices_per_app=devices_per_app,
            days=days,
            clock=self.clock,
        )
        self.ids = SeededIds(self.state)
        self.bus = Bus(
            self.stats, stream_ids=stream_ids, queue_size=queue_size, replay_size=replay_size
        )
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()
        self._generic = GenericResponder(self.schemas, seed)
        self._handlers = Handlers(
            self.api, self.state, self._generic, self.bus, self.stats, self._closing
        )
        self._examples = Examples(self.api, self._generic.generator, self.ids)

    def example_args(self, qualname: str) -> dict[str, Any]:
        """Valid arguments for ``qualname`` (``"instanceOrg.get"``), keyed by the API's param
        names: stored IDs for stored kinds, every required param, params with defaults, and
        a small valid body. Deleting actions target the last object of their kind."""
        return self._examples.args(qualname)

    def publish(self, application_id: str, topic: str, message: str) -> int:
        """Publish an MQTT message to ``application_id`` as if a device had; returns how many
        open ``mqttSubscriptionStream`` connections it reached."""
        self._live_app(application_id)
        if not valid_topic(topic):
            raise ValueError(f"not a topic to publish on: {topic!r}")
        return self.bus.publish(application_id, topic, message)

    def send_state(self, application_id: str, device_id: str, state: dict[str, Any]) -> int:
        """Report a device state, as ``device.sendState`` does: kept for ``getState`` and
        ``getCompositeState``, and sent to ``stateStream`` listeners; returns streams reached."""
        self._live_device(application_id, device_id)
        return self._handlers.streams.report_state(application_id, device_id, state)

    def send_command(
        self, application_id: str, device_id: str, name: str, payload: Any = None
    ) -> int:
        """Send a command to a device's ``commandStream`` listeners; returns streams reached."""
        self._live_device(application_id, device_id)
        command: dict[str, Any] = {"name": name}
        if payload is not None:
            command["payload"] = payload
        return self._handlers.streams.command(application_id, device_id, command)

    def _live_app(self, application_id: str) -> None:
        if application_id not in self.state.apps:
            raise KeyError(f"no application {application_id}")

    def _live_device(self, application_id: str, device_id: str) -> None:
        self._live_app(application_id)
        if device_id not in self.state.devices(self.state.apps[application_id]):
            raise KeyError(f"no device {device_id} in application {application_id}")

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._runner is None:
            raise RuntimeError("the server is not running; call start() first")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0: a free one, then read back)."""
        if self._runner is not None:
            return
        self._closing.clear()
        app = web.Application(client_max_size=256 * 1024 * 1024)
        # Every path, a newline in it included: our router and validation judge it.
        app.router.add_route("*", r"/{tail:[\s\S]*}", self._handle)
        app.on_shutdown.append(self._on_shutdown)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.create_server((self.host, self.port))
        site = web.SockSite(runner, sock)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self.port = sock.getsockname()[1]
        self._runner = runner

    async def close(self) -> None:
        """Stop serving; open streams end."""
        runner, self._runner = self._runner, None
        if runner is not None:
            self._closing.set()
            self.bus.close_all()
            await runner.cleanup()

    async def __aenter__(self) -> FakeLosant:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _on_shutdown(self, app: web.Application) -> None:
        self._closing.set()
        self.bus.close_all()

    # -- requests --------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        url = request.rel_url
        entry = JournalEntry(
            method=request.method,
            path=url.raw_path,
            query=list(url.query.items()),
            raw_query=url.raw_query_string,
            headers=freeze_headers(request.headers),
            time=time.time(),
        )
        self.journal.append(entry)
        if self.journal_limit is not None and len(self.journal) > self.journal_limit:
            del self.journal[: len(self.journal) - self.journal_limit]
        self.stats.requests += 1
        segments = split_path(url.raw_path)
        action = self.api.routes.match(request.method, segments)
        entry.action = action.qualname if action is not None else None
        if action is not None and action.is_stream:  # open streams are counted apart
            return await self._respond(request, entry, segments)
        self.stats.in_flight += 1
        self.stats.peak_in_flight = max(self.stats.peak_in_flight, self.stats.in_flight)
        try:
            return await self._respond(request, entry, segments)
        finally:
            self.stats.in_flight -= 1

    async def _validate(
        self, request: web.Request, entry: JournalEntry, segments: list[str]
    ) -> Call:
        action = self.api.actions.get(entry.action) if entry.action else None
        call = await validate(
            self.api, self.schemas, self.token, request, action, segments, entry.body
        )
        entry.path_params = call.path_params
        check_ids(self.state, call)
        return call

    async def _respond(
        self, request: web.Request, entry: JournalEntry, segments: list[str]
    ) -> web.StreamResponse:
        """Faults first, then the checks, then the answer (or the stream)."""
        fault = await self._faulted(request, entry)
        if isinstance(fault, web.StreamResponse):
            return fault
        try:
            call = await self._validate(request, entry, segments)
            if call.action.is_stream:
                self._handlers.streams.key(call)  # a bad topic filter is a 400, not a stream
            else:
                status, payload = self._answer(call, entry.path)
        except ErrorAnswer as err:
            status, payload = err.status, err.body()
        except Exception:
            log.exception("unexpected error answering %s %s", request.method, entry.path)
            status, payload = 500, {"type": "InternalError", "message": "Internal server error"}
        else:
            if call.action.is_stream:
                plan = self.faults.plan_stream(call.action.qualname)
                return await self._handlers.streams.serve(request, entry, call, plan)
        body = b"" if status == 204 else msgspec.json.encode(payload)
        sent = await fault.send(request, entry, status, body)
        if sent is not None:
            return sent
        entry.status = status
        entry.response = body
        if status == 204:
            return web.Response(status=204)
        return web.Response(status=status, body=body, content_type="application/json")

    async def _faulted(
        self, request: web.Request, entry: JournalEntry
    ) -> Fault | web.StreamResponse:
        """The request's fault, or the response a fault gave instead of an answer (the
        body read in between)."""
        pause, fault = self.faults.for_request(entry.action)
        if pause > 0:
            await asyncio.sleep(pause)
        early = fault.before_body(request)
        if early is not None:
            return early
        entry.body = await request.read()
        response = fault.instead(request)
        if response is None:
            return fault
        if request.transport is None or request.transport.is_closing():
            return response  # dropped: nothing was answered
        entry.status = response.status
        entry.response = response.body if isinstance(response.body, bytes) else b""
        return response

    def _answer(self, call: Call, raw_path: str) -> Answer:
        """From the stored state when the table has the action; else from its schema."""
        handler = self._handlers.table.get(call.action.qualname)
        if handler is not None:
            return handler(call)
        return call.action.success_status, self._generic.body(call, raw_path)
