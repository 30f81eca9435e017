"""Server-sent event streams that stay up for weeks.

:class:`EventStream` serves the three streaming actions
(``application.mqtt_subscription_stream``, ``device.state_stream``,
``device.command_stream``) and :meth:`LosantClient.stream` for any other SSE URL. It
reconnects on EOF, network errors and silence longer than its idle watchdog, with
exponential backoff and jitter (the server's ``retry:`` as the base, reset once a
connection delivers events), sends ``Last-Event-ID`` once an id was seen, honours
``Retry-After`` on 429/503, and raises the typed :class:`~losant_async.LosantError` on
400/401/403/404 and on any answer but 200 below 400, rather than looping.

What comes from aiohttp-sse-client and what is owned here: the package stays the event
vocabulary for code written against it (:meth:`ServerSentEvent.to_message_event` gives its
``MessageEvent``), but its connection loop cannot serve: its parser mis-reads CR-only line
ends, a leading BOM and ``data:  x``, crashes on an id holding NUL, and its reconnects
double without bound or jitter and have no idle watchdog. The decoder
(:mod:`losant_async._sse_decoder`), the handshake (which must raise typed errors per
status) and the reconnect loop are therefore this module's own.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import operator
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal, NoReturn, Self, TypeVar, cast, overload

import aiohttp
import anyio
import msgspec

from ._decode import decode_leniently
from ._encoding import encode_params
from ._lifetime import AsyncCloseable
from ._models import model_type
from ._retry import parse_retry_after
from ._sse_decoder import EventTooLarge, ServerSentEvent, SSEDecoder
from ._transport import describe_failure
from ._types import NOT_GIVEN, GapHandler, NotGiven, StreamOptions, TimeoutArg
from .errors import (
    APIConnectionError,
    APIError,
    ClientClosedError,
    DecodeError,
    LosantError,
    StreamError,
)

if TYPE_CHECKING:
    from opentelemetry.trace import Span  # hooks

    from ._action import Action
    from ._transport import Request, Transport

__all__ = ["EventStream", "SSEDecoder", "ServerSentEvent", "StreamGap", "StreamStats"]

T = TypeVar("T")
V = TypeVar("V")


class _Setting(Generic[V]):
    """An attribute of a stream that reads one field of its frozen ``options`` and, when
    set, replaces the options with that field changed (checked like a new one)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, stream: None, owner: type) -> _Setting[V]: ...
    @overload
    def __get__(self, stream: EventStream[Any], owner: type) -> V: ...
    def __get__(self, stream: EventStream[Any] | None, owner: type) -> V | _Setting[V]:
        if stream is None:
            return self
        value: V = getattr(stream.options, self._name)
        return value

    def __set__(self, stream: EventStream[Any], value: V) -> None:
        stream._set(**{self._name: value})


logger = logging.getLogger("losant_async")


def _fatal(status: int) -> bool:
    """Statuses after which reconnecting cannot help: the request itself is wrong.
    408 and 429 are the client errors that do pass."""
    return 400 <= status < 500 and status not in (408, 429)


# Seconds. The least backoff base when the server sets the pace (``retry:`` or
# ``Retry-After``), which may be 0: a server must not be able to cause a tight loop.
_MIN_SERVER_RETRY = 0.1


class StreamStats(msgspec.Struct, frozen=True):
    """A stream's counters as of when ``stream.stats`` was read.

    - ``events``: events that reached the caller (decoded to their models, for the stream
      actions; keep-alives and events that failed to decode are not counted).
    - ``reconnects``: reconnect attempts over the stream's life, failed ones included.
    - ``connects``: connections the server accepted (200), the first one included.
    - ``last_event_time``: when the last event that reached the caller arrived, as
      ``time.time()``; None before the first.
    - ``last_event_id``: the id that event carried ("" if none); the id sent on reconnect
      is :attr:`EventStream.last_event_id`, which may be ahead when events are buffered.
    - ``gaps``: reconnects the server did not resume by id (see :class:`StreamGap`).
    """

    events: int = 0
    reconnects: int = 0
    connects: int = 0
    last_event_time: float | None = None
    last_event_id: str = ""
    gaps: int = 0


GapReason = Literal["closed", "silent", "error"]


class StreamGap(msgspec.Struct, frozen=True):
    """A reconnect the server did not resume by id: what it sent in ``[start, end]`` may
    never arrive, so a listener may want to re-read the state it follows.

    - ``start``: when the stream last heard from the server (an event, a keep-alive or
      the connection's acceptance) before the connection was lost; aware, UTC.
    - ``end``: when the server accepted the new connection; aware, UTC.
    - ``last_event_id``: the last event id seen before the loss ("" if the server sends
      none).
    - ``reason``: how the connection was lost: ``"closed"`` by the server, ``"silent"``
      for longer than ``idle_timeout``, or an ``"error"`` of the network or the stream.
    - ``reconnects``: the attempts it took to connect again (1 if the first succeeded).
    """

    start: datetime
    end: datetime
    last_event_id: str
    reason: GapReason
    reconnects: int

    @property
    def duration(self) -> timedelta:
        """How long the stream may have missed events."""
        return self.end - self.start


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _to_message_event(event: ServerSentEvent, origin: str | None = None) -> Any:
    from aiohttp_sse_client.client import MessageEvent

    return MessageEvent(
        type=event.event, message=event.event, data=event.data, origin=origin,
        last_event_id=event.id,
    )  # fmt: skip


ServerSentEvent.to_message_event = _to_message_event  # type: ignore[attr-defined]


class EventStream(AsyncCloseable, Generic[T]):
    """``async with`` it, then ``async for`` over its events; leaving closes the connection.

    Only the events of the action's own types (``mqttMessage``, ``deviceState``,
    ``deviceCommand``) reach the caller, decoded to their models; keepalives and other
    types are dropped. A :class:`~losant_async.DecodeError` for one event leaves the
    stream usable. ``stream.stats`` gives its counters (:class:`StreamStats`). Once the
    client is closed, entering or iterating the stream raises
    :class:`~losant_async.ClientClosedError` at once, even in a read or a reconnect's wait.

    Gaps: a reconnect counts as resumed when its request carried ``Last-Event-ID``, that
    is when the server had sent an event id: a server that numbers its events is trusted
    to send what came after it, as ``EventSource`` does. Any other reconnect is a gap (so
    every reconnect of a stream without ids, as Losant's API describes its streams: they
    replay nothing): it is counted in ``stats.gaps`` and, before the first event of the
    new connection, handed to ``on_gap`` as a :class:`StreamGap`.

    Settings are public attributes, set on the stream before entering it (they live in
    ``stream.options``, a frozen :class:`~losant_async.StreamOptions`: setting one checks
    the value and replaces the options)::

        stream = client.device.state_stream(application_id=app, device_id=dev)
        stream.max_event_size = 64 * 1024
        stream.max_reconnects = 100

    - ``idle_timeout``: seconds of silence, the wait for a connection's answer included,
      before reconnecting (None: no limit); the stream actions use three times their
      ``keep_alive_interval``.
    - ``max_event_size``: bytes (UTF-8) one event's data or one line may take, default
      1 MiB (None: unbounded); a larger event ends the stream with
      :class:`~losant_async.StreamError` once the events before it are delivered.
    - ``backoff_base``, ``backoff_max``: seconds; after ``n`` reconnects in a row that
      delivered nothing, the next waits a random time in ``[c / 2, c]``,
      ``c = min(backoff_max, base * 2**n)``, the base being the server's ``retry:`` when
      it sent one. When the server sets the pace (``retry:``, or ``Retry-After`` on
      429/503) the base is at least 0.1 s, whatever ``backoff_max``, so ``retry: 0`` or
      ``Retry-After: 0`` cannot cause a tight loop.
    - ``retry_after_max``: the longest ``Retry-After`` obeyed, in seconds; the wait is
      the longer of it and the backoff above.
    - ``max_reconnects``: reconnect attempts allowed in a row without an event arriving
      (keep-alive events count, so a stream that stays up never runs out; None: no
      limit); beyond it :class:`~losant_async.StreamError` is raised.
    - ``on_gap``: None, or a function (sync or async) called with each
      :class:`StreamGap`, in the iterating task; what it raises comes out of the
      iteration and leaves the stream usable.
    """

    def __init__(
        self,
        transport: Transport,
        path: str,
        query: str,
        *,
        models: Mapping[str, str] | None,
        options: StreamOptions,
        headers: Mapping[str, str] | None = None,
        timeout: TimeoutArg | NotGiven = NOT_GIVEN,
    ) -> None:
        self._transport = transport
        self.path = path
        self._query = query
        self._headers = dict(headers or {})
        self._models = models
        self._timeout = timeout  # read as a call's: its connect part applies
        self._options = options
        self._decoder = SSEDecoder(max_event_size=options.max_event_size)
        self._decoders: dict[str, Callable[[str], Any]] = {}
        self._response: aiohttp.ClientResponse | None = None
        # The batch being delivered: its items, and the events they came from.
        self._ready: Iterator[T] = iter(())
        self._batch_items: list[Any] = []
        self._batch_events: list[ServerSentEvent] = []
        self._batch_time: float | None = None  # time.time() when its chunk arrived
        # The events delivered from earlier batches, and the id and time of the last one.
        self._events_before = 0
        self._last_before: tuple[str, float | None] = ("", None)
        self._reconnects = 0
        self._connects = 0
        self._error: LosantError | None = None  # raised once the batch is delivered
        self._end_error: LosantError | None = None  # raised once all else is delivered
        self._backlog: list[ServerSentEvent] = []  # after an event that did not decode
        self._backlog_time = 0.0
        # Reconnect attempts since an event last arrived: the backoff's exponent and what
        # max_reconnects bounds.
        self._failures = 0
        # Gaps: when the server was last heard from; the connection loss being recovered
        # from (when the server was last heard, how it ended, the last event id, and the
        # reconnect count when it began); a gap to report before anything else.
        self._heard = 0.0
        self._outage: tuple[float, GapReason, str, int] | None = None
        self._gap: StreamGap | None = None
        self._gaps = 0
        self._closed = False
        # Scope of the iterating task's reconnect (backoff wait and connect): aclose()
        # from another task cancels it, so that closing does not wait for either.
        self._scope: anyio.CancelScope | None = None
        self._action: Action[Any] | None = None  # hooks: names the stream to hooks and spans
        self._span: Span | None = None  # hooks: the open connection's span, when tracing

    # -- construction ----------------------------------------------------------------

    @classmethod
    def for_action(
        cls, transport: Transport, action: Action[T], args: Mapping[str, Any]
    ) -> EventStream[T]:
        """The stream of a generated SSE action, with its arguments."""
        from ._encoding import encode_action

        request = encode_action(action, args)
        # The server's keep-alive interval, read as the encoder reads every parameter.
        keepalive = next(
            (args[p.attr] for p in action.params if p.name == "keepAliveInterval"), None
        )
        stream = cls(
            transport,
            request.path,
            request.query,
            models=action.events or {},
            options=StreamOptions(idle_timeout=3 * float(keepalive or 2)),
            headers=request.headers,
            timeout=args["timeout"],
        )
        stream._action = action  # hooks
        return stream

    @classmethod
    def for_path(
        cls,
        transport: Transport,
        path: str,
        params: Mapping[str, Any],
        idle_timeout: float | None,
        headers: Mapping[str, str] | None = None,
    ) -> EventStream[ServerSentEvent]:
        """A stream of raw events from any SSE path of the API."""
        if not path.startswith("/"):
            raise ValueError("path must start with '/'")
        return EventStream[ServerSentEvent](
            transport,
            path,
            encode_params(params),
            models=None,
            options=StreamOptions(idle_timeout=idle_timeout),
            headers=headers,
        )

    # -- settings --------------------------------------------------------------------

    @property
    def options(self) -> StreamOptions:
        """The stream's settings, frozen; each attribute below replaces one of them."""
        return self._options

    def _set(self, **change: Any) -> None:
        self._options = dataclasses.replace(self._options, **change)  # checked there
        self._decoder.max_event_size = self._options.max_event_size

    # Each reads or replaces one field of ``options`` (see the class docstring).
    idle_timeout: _Setting[float | None] = _Setting()
    max_event_size: _Setting[int | None] = _Setting()
    backoff_base: _Setting[float] = _Setting()
    backoff_max: _Setting[float] = _Setting()
    retry_after_max: _Setting[float] = _Setting()
    max_reconnects: _Setting[int | None] = _Setting()
    on_gap: _Setting[GapHandler | None] = _Setting()

    # -- lifetime --------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self._interruptible(self._connect)
        return self

    async def aclose(self) -> None:
        """Close the connection now; iteration ends, at once even in a reconnect's wait."""
        self._closed = True
        self._drop_connection()
        if self._scope is not None:
            self._scope.cancel()

    def _drop_connection(self) -> None:
        if self._response is not None:
            # close(), not release(): the connection must not go back to the pool mid-stream.
            self._response.close()
            self._response = None
        if self._span is not None:  # hooks: the connection's span ends with it
            self._span.end()
            self._span = None

    @property
    def last_event_id(self) -> str:
        return self._decoder.last_event_id

    # -- iteration -------------------------------------------------------------------
    #
    # Each chunk read is decoded at once, its events to their models in one pass, and the
    # items wait in ``_ready`` (an iterator over ``_batch_items``). ``async for`` runs an
    # async generator that yields from it, so an event costs no coroutine and no Python
    # call of its own; counters are kept per batch and ``stats`` works out the rest when
    # asked.

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        # A fresh generator per ``async for``: one ended by an error (a DecodeError, say)
        # leaves the stream, whose state is all in ``self``, usable by the next.
        while True:
            ready = self._ready
            for item in ready:
                yield item
            # A direct __anext__() may have started a new batch while this one waited.
            if ready is self._ready and not await self._fill():
                return

    async def __anext__(self) -> T:
        while True:
            for item in self._ready:
                return item
            if not await self._fill():
                raise StopAsyncIteration

    async def _fill(self) -> bool:
        """Read until a batch of items is ready (True) or the stream is over (False)."""
        while True:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._backlog:  # the events after one that failed to decode
                events, self._backlog = self._backlog, []
                if self._take(events, self._backlog_time):
                    return True
                continue
            if self._closed:
                if self._end_error is not None:
                    error, self._end_error = self._end_error, None
                    raise error
                return False
            if self._gap is not None:
                gap, self._gap = self._gap, None
                await self._report(gap)
                continue
            if self._response is None:
                await self._interruptible(self._reconnect)
                continue
            try:
                with anyio.fail_after(self._options.idle_timeout):
                    chunk = await self._response.content.readany()
            except TimeoutError:
                logger.debug("stream %s: silent too long, reconnecting", self.path)
                self._lost("silent")
                continue
            except (aiohttp.ClientError, OSError) as exc:
                logger.debug("stream %s: %s, reconnecting", self.path, type(exc).__name__)
                self._lost("error")
                continue
            except RuntimeError:
                # aiohttp's "Connection closed.": the client's aclose() closed it.
                if not self._transport.closed:
                    raise
                self._lost("error")
                continue
            if not chunk:
                logger.debug("stream %s: server closed the stream, reconnecting", self.path)
                self._lost("closed")
                continue
            received = self._heard = time.time()
            try:
                events = self._decoder.feed(chunk)
            except EventTooLarge as exc:
                # Raised only after the events that preceded it in this chunk: raising at
                # once would end an ``async for`` with them undelivered.
                self._drop_connection()
                self._closed = True
                self._end_error = StreamError(f"stream {self.path}: {exc}")
                if self._take(exc.events, received):
                    return True
                continue
            if events:
                self._failures = 0
                if self._take(events, received):
                    return True

    def _take(self, events: list[ServerSentEvent], received: float) -> bool:
        """Make the caller's items of one run of events the next batch; False if none."""
        items: list[Any]
        if self._models is None:
            items = cast(list[Any], events)
        else:
            try:
                items = self._deliver(events)
            except (msgspec.DecodeError, RecursionError):
                items, events = self._deliver_until_failure(events, received)
        if not items:
            return self._error is not None  # if so, _fill() raises it next
        # Fold the batch that ran out into the counters before replacing it.
        if self._batch_items:
            self._events_before += len(self._batch_items)
            self._last_before = (self._nth_id(-1), self._batch_time)
        self._batch_items = items
        self._batch_events = events
        self._batch_time = received
        self._ready = iter(items)
        return True

    def _deliver(self, events: list[ServerSentEvent]) -> list[Any]:
        """The one place where events' data become their models: the events of the
        action's types in a run, all at once; any other type is left out."""
        decoders = self._decoders or self._load_decoders()
        return [decode(e.data) for e in events if (decode := decoders.get(e.event))]

    def _deliver_until_failure(
        self, events: list[ServerSentEvent], received: float
    ) -> tuple[list[Any], list[ServerSentEvent]]:
        # Rare: decode one by one, repairing what does not fit its model. An event that
        # cannot be repaired ends the run: those before it are delivered, then its
        # DecodeError, then the rest, so that one bad event costs no other.
        items: list[Any] = []
        for index, event in enumerate(events):
            decode = self._decoders.get(event.event)
            if decode is None:
                continue
            try:
                items.append(decode(event.data))
            except (msgspec.DecodeError, RecursionError) as exc:
                try:
                    items.append(
                        decode_leniently(
                            _decoder_of(decode),
                            event.data,
                            exc,
                            what=f"{event.event} event",
                            status=200,
                            method="GET",
                            path=self.path,
                        )
                    )
                except DecodeError as error:
                    self._error = error
                    self._backlog = events[index + 1 :]
                    self._backlog_time = received
                    return items, events[:index]
        return items, events

    def _load_decoders(self) -> dict[str, Callable[[str], Any]]:
        assert self._models is not None
        self._decoders = {
            name: msgspec.json.Decoder(model_type(model)).decode
            for name, model in self._models.items()
        }
        return self._decoders

    def _nth_id(self, n: int) -> str:
        """The id of the ``n``-th event (from 1; -1: the last) of the batch that reached
        the caller."""
        models = self._models
        events = self._batch_events
        if models is None:
            return events[n - 1 if n > 0 else n].id
        if n < 0:
            return next(e.id for e in reversed(events) if e.event in models)
        return [e for e in events if e.event in models][n - 1].id

    @property
    def stats(self) -> StreamStats:
        """Counters for operators, as of now (a snapshot); see :class:`StreamStats`."""
        delivered = len(self._batch_items) - operator.length_hint(self._ready)
        last_id, last_time = self._last_before
        if delivered:
            last_id, last_time = self._nth_id(delivered), self._batch_time
        return StreamStats(
            events=self._events_before + delivered,
            reconnects=self._reconnects,
            connects=self._connects,
            last_event_time=last_time,
            last_event_id=last_id,
            gaps=self._gaps,
        )

    async def _report(self, gap: StreamGap) -> None:
        logger.info(
            "stream %s: reconnected without resuming; events from %s to %s may be lost",
            self.path, gap.start, gap.end,
        )  # fmt: skip
        if self.on_gap is not None:
            result = self.on_gap(gap)
            if inspect.isawaitable(result):
                await result

    # -- connecting ------------------------------------------------------------------

    def _lost(self, reason: GapReason) -> None:
        self._drop_connection()
        self._decoder.close()  # an unterminated event is dropped, as the standard says
        if self._outage is None:
            self._outage = (self._heard, reason, self._decoder.last_event_id, self._reconnects)

    async def _interruptible(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` (a wait and connect) so that ``aclose()`` can cut it short."""
        with anyio.CancelScope() as scope:
            self._scope = scope
            if self._closed:
                scope.cancel()
            try:
                await step()
            finally:
                self._scope = None
        if self._closed:
            # A connection may have opened as aclose() ran: it must not outlive the stream.
            self._drop_connection()

    async def _reconnect(self) -> None:
        if self._transport.closed:
            raise self._client_closed()
        self._count_reconnect("gave up")
        delay = self._backoff()
        if (obs := self._transport.observer) is not None:  # hooks: reconnect after a loss
            lost = self._outage[1] if self._outage is not None else "closed"
            obs.stream_reconnect(self._action, self.path, self._failures, delay, lost)
        await self._sleep(delay)
        await self._connect(reconnecting=True)

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``; the client's aclose() ends the wait, and the stream, at once."""
        if not await self._transport._wait(seconds):
            raise self._client_closed()

    def _client_closed(self) -> ClientClosedError:
        self._closed = True
        self._drop_connection()
        return ClientClosedError("the client is closed", method="GET", path=self.path)

    def _count_reconnect(self, what: str, failure: LosantError | None = None) -> None:
        """Count one more reconnect, or end the stream once ``max_reconnects`` in a row
        are spent."""
        if self.max_reconnects is None or self._failures < self.max_reconnects:
            self._reconnects += 1
            return
        self._closed = True
        message = f"stream {self.path}: {what} after {self._failures} reconnects in a row"
        if failure is not None:
            message += f"; last failure: {describe_failure(failure)}"
        raise StreamError(message) from failure

    def _backoff(self, retry_after: float | None = None) -> float:
        """The wait before the next attempt, in seconds (see the class docstring)."""
        server_retry = self._decoder.retry
        base, cap = self.backoff_base, self.backoff_max
        if server_retry is not None:
            base = server_retry / 1000
        if server_retry is not None or retry_after is not None:
            base = max(base, _MIN_SERVER_RETRY)
            cap = max(cap, _MIN_SERVER_RETRY)
        ceiling = min(cap, base * (2 ** min(self._failures, 30)))
        self._failures += 1
        # Half of the range is jitter; the other half keeps the floor and the growth real.
        wait = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.retry_after_max))
        logger.debug("stream %s: next attempt in %.3f s", self.path, wait)
        return wait

    async def _connect(self, *, reconnecting: bool = False) -> None:
        """Open a connection, retrying transient failures; fatal statuses raise.

        Returns without a connection once the stream is closed: ``aclose()`` from another
        task must stop the retries and must not leave a connection opened after it.
        """
        transport = self._transport
        while not self._closed:
            if transport.closed:
                raise self._client_closed()
            if reconnecting:
                await transport.reauthenticate()  # a token provider is asked each time
            reconnecting = True
            headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
            headers.update(self._headers)
            resume_id = self._decoder.last_event_id
            if resume_id:
                headers["Last-Event-ID"] = resume_id
            # The idle timeout also bounds the wait for the response headers, which the
            # watchdog in _fill does not cover: a server that accepts and never answers
            # would otherwise hold a connect (or reconnect) forever.
            request = transport.build(
                "GET", self.path, self._query, headers, timeout=self._timeout,
                stream_idle=self._options.idle_timeout,
            )  # fmt: skip
            retry_after: float | None = None
            failure: LosantError
            try:
                if (obs := transport.observer) is None:
                    response = await transport.send(request, stream=True)
                else:  # hooks: the connect, in its span when tracing
                    response, self._span = await obs.stream_connect(
                        transport.send(request, stream=True), self._action, request.url,
                        self._reconnects,
                    )  # fmt: skip
            except APIError as error:
                if _fatal(error.status):
                    self._closed = True
                    raise
                if error.retry_after is not None:
                    retry_after = parse_retry_after(error.retry_after)
                logger.debug("stream %s: status %d, retrying", self.path, error.status)
                failure = error
            except ClientClosedError:
                raise self._client_closed() from None
            except APIConnectionError as error:
                logger.debug("stream %s: connect failed: %s", self.path, error)
                failure = error
            else:
                if self._closed:
                    response.close()
                    return
                if response.status == 200 and response.content_type != "text/event-stream":
                    # As EventSource does: a 200 that is not an event stream (a login
                    # page, a proxy's notice) fails the stream rather than looping.
                    self._closed = True
                    body = await _read_quietly(response, limit=1 << 16)
                    raise DecodeError(
                        f"expected text/event-stream, got {response.content_type!r}",
                        status=200, method="GET", path=self.path, body=body,
                    )  # fmt: skip
                if response.status != 200:
                    # As EventSource does: only a 200 opens a stream. 204 is the server
                    # saying "stop"; 304, another 2xx or a redirect not followed will not
                    # change by asking again.
                    await self._refuse(request, response)
                self._decoder.reset()
                self._response = response
                self._connects += 1
                self._heard = time.time()
                if self._outage is not None and not resume_id:
                    start, reason, last_id, reconnects = self._outage
                    self._gap = StreamGap(
                        _utc(start), _utc(self._heard), last_id, reason,
                        self._reconnects - reconnects,
                    )  # fmt: skip
                    self._gaps += 1
                self._outage = None
                logger.debug("stream %s: connected", self.path)
                return
            if transport.closed:
                raise self._client_closed()
            self._count_reconnect("cannot connect", failure)
            delay = self._backoff(retry_after)
            if (obs := transport.observer) is not None:  # hooks: reconnect after a failed connect
                obs.stream_reconnect(
                    self._action, self.path, self._failures, delay, "error", failure
                )
            await self._sleep(delay)

    async def _refuse(self, request: Request, response: aiohttp.ClientResponse) -> NoReturn:
        self._closed = True
        body = await _read_quietly(response, limit=1 << 16)
        # The client's one status mapping, as for any answer.
        answer = self._transport._status_error(request, response.status, response.headers, body)
        raise StreamError(
            f"stream {self.path}: the server answered {response.status} {response.reason}"
            " where only 200 opens an event stream"
        ) from answer


def _decoder_of(decode: Callable[[str], Any]) -> msgspec.json.Decoder[Any]:
    """The decoder whose bound ``decode`` method this is."""
    return cast("msgspec.json.Decoder[Any]", getattr(decode, "__self__"))  # noqa: B009


async def _read_quietly(response: aiohttp.ClientResponse, limit: int = -1) -> bytes:
    try:
        return await response.content.read(limit)
    except (aiohttp.ClientError, OSError, TimeoutError):
        return b""
    finally:
        response.release()
