"""Live data: MQTT publishing, device states and commands, and the SSE streams
(``mqttSubscriptionStream``, ``stateStream``, ``commandStream``) they reach."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from aiohttp import web

from .._bus import CLOSE, Bus, Event, valid_filter, valid_topic
from .._call import Answer, Call, invalid
from .._faults import StreamPlan
from .._journal import JournalEntry, Stats
from .._schema import JSON
from .._state import iso
from ._base import SUCCESS, Area, Context


class StreamHandlers(Area):
    """Publishing and sending reach the open streams through the bus."""

    def __init__(self, ctx: Context, bus: Bus, stats: Stats, closing: asyncio.Event) -> None:
        super().__init__(ctx)
        self.bus = bus
        self.stats = stats
        self.closing = closing

    # -- what reaches the streams ----------------------------------------------------------

    def stamped(self, event: JSON) -> JSON:
        """A state or command as delivered: with ``time`` when the sender left it out."""
        if isinstance(event, dict) and "time" not in event:
            return {**event, "time": iso(self.state.clock())}
        return event

    def report_state(self, application_id: str, device_id: str, state: JSON) -> int:
        """Keep a reported state and send it to the device's ``stateStream`` listeners."""
        stamped = self.stamped(state)
        self.state.record_state(application_id, device_id, stamped)
        return self.bus.device_event("state", application_id, device_id, stamped)

    def command(self, application_id: str, device_id: str, command: JSON) -> int:
        """Send a command to the device's ``commandStream`` listeners."""
        return self.bus.device_event("command", application_id, device_id, self.stamped(command))

    def publish_message(self, call: Call) -> Answer:
        body = call.body_fields()
        if not valid_topic(body["topic"]):
            raise invalid("payload.topic must not contain wildcards")
        self.bus.publish(call.path_params["applicationId"], body["topic"], body["message"])
        return call.action.success_status, dict(SUCCESS)

    def send_state(self, call: Call) -> Answer:
        app_id, device_id = call.path_params["applicationId"], call.path_params["deviceId"]
        for state in call.body if isinstance(call.body, list) else [call.body]:
            self.report_state(app_id, device_id, state)
        return call.action.success_status, dict(SUCCESS)

    def send_command(self, call: Call) -> Answer:
        self.command(call.path_params["applicationId"], call.path_params["deviceId"], call.body)
        return call.action.success_status, dict(SUCCESS)

    def send_commands(self, call: Call) -> Answer:
        """``devices.sendCommand``: to the listed devices, else to all of the application."""
        app = self._app(call)
        body = call.body_fields()
        targets = body.get("deviceIds") or list(self.state.devices(app))
        command = {k: v for k, v in body.items() if k in ("name", "payload", "time")}
        for device_id in targets:
            self.command(app.id, device_id, command)
        return call.action.success_status, dict(SUCCESS)

    # -- serving a stream ------------------------------------------------------------------

    @staticmethod
    def key(call: Call) -> tuple[str, ...]:
        """The bus channel a stream listens on."""
        params = call.path_params
        if call.action.name == "mqttSubscriptionStream":
            topic = str(call.query.get("topic", ""))
            if not valid_filter(topic):
                raise invalid("topic must be a valid MQTT topic filter")
            return ("mqtt", params["applicationId"], topic)
        kind = "state" if call.action.name == "stateStream" else "command"
        return (kind, params["applicationId"], params["deviceId"])

    async def serve(
        self, request: web.Request, entry: JournalEntry, call: Call, plan: StreamPlan
    ) -> web.StreamResponse:
        """Send the stream's events and keepalives until it ends (or ``plan`` ends it)."""
        key = self.key(call)
        interval = _seconds(call.query.get("keepAliveInterval"), 2.0)
        response = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "Connection": "keep-alive",
            },
        )
        # Subscribed before the headers go out: a client that publishes as soon as it sees
        # them must not miss its own message.
        sub, backlog = self.bus.subscribe(key, request.headers.get("Last-Event-ID"))
        self.stats.open_streams += 1
        self.stats.peak_open_streams = max(self.stats.peak_open_streams, self.stats.open_streams)
        try:
            await response.prepare(request)
            entry.status = 200
            await self._pump(response, sub.queue, backlog, interval, plan)
            if not self.closing.is_set():
                await response.write_eof()
        except ConnectionError:
            pass  # the client went away
        finally:
            self.bus.unsubscribe(sub)
            self.stats.open_streams -= 1
        return response

    async def _pump(
        self,
        response: web.StreamResponse,
        queue: asyncio.Queue[Event],
        backlog: list[Event],
        interval: float,
        plan: StreamPlan,
    ) -> None:
        pending = deque(backlog)
        stall_after = plan.stall_after
        sent = 0
        while not self.closing.is_set():
            if sent == stall_after:
                stall_after = -1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.closing.wait(), plan.stall_seconds)
                continue
            if pending:
                event = pending.popleft()
            else:
                try:
                    event = await asyncio.wait_for(queue.get(), interval)
                except TimeoutError:
                    keepalive = f"event: keepAlive\ndata: {self.state.clock()}\n\n"
                    await response.write(keepalive.encode())
                    continue
            if event is CLOSE:
                return
            await response.write(event.encode())
            sent += 1
            if plan.drop_every and sent >= plan.drop_every:
                return


def _seconds(value: JSON, default: float) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return default
    return seconds if seconds > 0 else default
